"""``accord serve [TARGET]``: run an agent over HTTP with uvicorn.

Theory of operation. TARGET names a Python object, ``path/to/file.py[:OBJ]`` or
``package.module[:OBJ]`` (OBJ may be dotted). The object may be:

* an :class:`~accord.server.A2AApp`: served as is (it brings its own store);
* an :class:`~accord.server.Agent`: wrapped in ``A2AApp(agent, store=open_store(db))``,
  a SQLite file or, for a ``postgresql://`` URL, the PostgreSQL store;
* a factory (function or class): called as ``OBJ(db=PATH)`` (or ``OBJ()`` when it takes
  no ``db``), returning either of the above.

Without OBJ the names ``app``, ``agent``, ``create_app`` and ``create_agent`` are tried
in that order. Without TARGET the demo Receptionist that ships in the package is
served (``accord.demo.receptionist:create_app``: API keys required, see that module).

TLS: ``--ssl-certfile``/``--ssl-keyfile`` serve HTTPS; ``--ssl-ca-certs`` adds client
certificates (required by default, ``--ssl-client-cert optional`` to allow callers
without one), verified against that CA bundle during the handshake and handed to the
app as the ASGI TLS extension (:mod:`accord.server.auth.tls`), where a
``MutualTLSVerifier`` reads them.

Public URL, proxies, CORS (:mod:`accord.server.proxy`, :mod:`accord.server.cors`):
``--public-url`` fixes the base URL the card advertises; ``--forwarded-allow-ips``
names the proxies whose ``X-Forwarded-Host`` / ``X-Forwarded-Proto`` the app believes
(default ``$FORWARDED_ALLOW_IPS``, else loopback, as uvicorn); ``--cors-allow-origins``
(and ``--cors-allow-credentials``) let pages of other origins call the endpoints. The
app alone decides about forwarded headers: uvicorn's own proxy-header rewriting is
turned off, since it would replace the peer address the app checks (so uvicorn's
access log shows the proxy's address).

Connection limits: uvicorn runs the protocol class of :mod:`accord.server.serving`,
which bounds header bytes and fields, the URL, the time to send headers and body, idle
keep-alive connections and the number of open connections
(:class:`~accord.server.limits.ConnectionLimits`; ``--limit-connections``,
``--max-header-bytes``, ``--max-headers``, ``--max-request-line``,
``--header-timeout``, ``--body-timeout``, ``--keep-alive-timeout``; see
``docs/security.md``).

uvicorn is the ``[serve]`` extra and is imported here only. Once the socket listens the
card URL is printed (with the real port when ``--port 0``).

Shutdown. On SIGINT / SIGTERM uvicorn stops accepting connections, waits for the open
ones, and only then runs the lifespan shutdown. So the shutdown starts in the app first
(:meth:`A2AApp.begin_shutdown`): new messages are refused (503), running tasks get
``--shutdown-grace`` seconds to finish, the rest end FAILED ("interrupted"), and every
open stream and waiting blocking call receives that final state before its connection
closes. uvicorn waits for connections a little longer than the grace
(:data:`INTERRUPT_MARGIN`). The command then exits 0 instead of re-raising the signal.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import EXIT_FAILED, UsageError
from ._otel_options import configure_otel, describe, log_formatter, uvicorn_logging
from ._push_options import configure_push
from ._serve_limits import configure_audit, configure_limits, configure_rate_limit
from ._serve_target import DEFAULT_NAMES, DEFAULT_TARGET, default_target, load_app

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from types import FrameType

    from accord.grpc import GrpcServer
    from accord.server import A2AApp
    from accord.server.cors import CorsPolicy
    from accord.server.limits import ConnectionLimits

__all__ = [
    "DEFAULT_NAMES",
    "DEFAULT_TARGET",
    "INTERRUPT_MARGIN",
    "LIMIT_FLAGS",
    "PublicOptions",
    "configure_app",
    "configure_limits",
    "connection_limits",
    "default_target",
    "load_app",
    "public_options",
    "run",
    "server_options",
]

#: Seconds uvicorn waits for open connections beyond the app's shutdown grace: time for
#: interrupted tasks to record their end and for the responses to reach the clients.
INTERRUPT_MARGIN = 5.0
#: ``ConnectionLimits`` field for each connection-limit flag (its argparse dest).
LIMIT_FLAGS = {
    "max_connections": "limit_connections",
    "max_header_bytes": "max_header_bytes",
    "max_headers": "max_headers",
    "max_request_line": "max_request_line",
    "header_timeout": "header_timeout",
    "body_timeout": "body_timeout",
    "keep_alive_timeout": "keep_alive_timeout",
}


def card_url(host: str, port: int, *, tls: bool = False) -> str:
    """The URL of the card served on ``host:port``, usable from this machine."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if tls else "http"
    return f"{scheme}://{host}:{port}/.well-known/agent-card.json"


def connection_limits(args: argparse.Namespace) -> ConnectionLimits:
    """The :class:`ConnectionLimits` of the flags (a default for each one not given).

    Raises:
        UsageError: a value the limits refuse.
    """
    from accord.server.limits import ConnectionLimits

    given = {field: getattr(args, dest, None) for field, dest in LIMIT_FLAGS.items()}
    try:
        return ConnectionLimits(**{k: v for k, v in given.items() if v is not None})
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """``uvicorn.Config`` options of the flags: connection limits, TLS.

    Raises:
        UsageError: inconsistent or invalid flags.
    """
    from accord.server.serving import uvicorn_options

    limits = connection_limits(args)
    return {**uvicorn_options(limits), **tls_options(args, limits)}


def tls_options(
    args: argparse.Namespace, limits: ConnectionLimits | None = None
) -> dict[str, Any]:
    """``uvicorn.Config`` options for the ``--ssl-*`` flags (empty without them).

    ``limits`` go to the protocol class that also carries the TLS extension.

    Raises:
        UsageError: inconsistent flags.
    """
    certfile = getattr(args, "ssl_certfile", None)
    keyfile = getattr(args, "ssl_keyfile", None)
    ca_certs = getattr(args, "ssl_ca_certs", None)
    client_cert = getattr(args, "ssl_client_cert", None)
    if not certfile:
        if keyfile or ca_certs or client_cert:
            raise UsageError(
                "--ssl-keyfile, --ssl-ca-certs and --ssl-client-cert need "
                "--ssl-certfile (the server certificate)"
            )
        return {}
    for flag, path in (
        ("--ssl-certfile", certfile),
        ("--ssl-keyfile", keyfile),
        ("--ssl-ca-certs", ca_certs),
    ):
        if path and not Path(path).is_file():
            raise UsageError(f"{flag}: no such file: {path}")
    from accord.server.auth.tls import uvicorn_ssl_options

    try:
        return uvicorn_ssl_options(
            certfile=certfile,
            keyfile=keyfile,
            ca_certs=ca_certs,
            client_cert=client_cert,
            limits=limits,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class PublicOptions:
    """The validated ``--public-url`` / ``--forwarded-allow-ips`` / ``--cors-*`` flags."""

    public_url: str | None
    forwarded_allow_ips: str | None
    cors: CorsPolicy | None


def public_options(args: argparse.Namespace) -> PublicOptions:
    """Check the public-URL, proxy and CORS flags before anything is loaded.

    Raises:
        UsageError: a flag's value is invalid (the message says which and why).
    """
    from accord.server.cors import CorsPolicy
    from accord.server.proxy import ForwardedAllowList, check_public_url

    url = getattr(args, "public_url", None)
    ips = getattr(args, "forwarded_allow_ips", None)
    if ips is None:
        ips = os.environ.get("FORWARDED_ALLOW_IPS")
    origins = getattr(args, "cors_allow_origins", None)
    credentials = bool(getattr(args, "cors_allow_credentials", False))
    try:
        if url is not None:
            url = check_public_url(url)
        if ips is not None:
            ForwardedAllowList(ips)
        if credentials and not origins:
            raise ValueError("--cors-allow-credentials needs --cors-allow-origins")
        cors = (
            CorsPolicy.from_list(origins, allow_credentials=credentials)
            if origins
            else None
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return PublicOptions(url, ips, cors)


def configure_app(app: A2AApp, options: PublicOptions) -> None:
    """Apply the flags given to ``app`` (an A2AApp keeps its own settings otherwise)."""
    if options.public_url is not None:
        app.public_url = options.public_url
    if options.forwarded_allow_ips is not None:
        app.forwarded_allow_ips = options.forwarded_allow_ips
    if options.cors is not None:
        app.cors = options.cors


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT / SIGTERM; return 0 after a graceful shutdown."""
    try:
        import uvicorn
    except ImportError:
        print(
            "accord: `accord serve` needs uvicorn: pip install 'accord[serve]'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    options = server_options(args)
    public = public_options(args)
    app, label = load_app(args.target, args.db, args)
    configure_app(app, public)
    grace = getattr(args, "shutdown_grace", None)
    if grace is not None:
        app.shutdown_grace = grace
    lease = getattr(args, "lease_seconds", None)
    if lease is not None:
        app.engine.lease_seconds = lease
    configure_limits(app, args)
    configure_push(app, args)
    configure_rate_limit(app, args)
    configure_audit(app, args)
    served, telemetry = configure_otel(app, args)  # after the rate limit: it goes first
    console = None
    if getattr(args, "console", False):
        from .console import console_for

        served, console = console_for(app, served, args.host)
    if getattr(args, "sign_key", None):
        from .keys import load_signing_key

        key = load_signing_key(args.sign_key)
        app.card_signer = key
        print(
            f"Signing the agent card with key {key.kid} ({key.alg}); public key at "
            "/.well-known/jwks.json",
            flush=True,
        )
        if app.public_url is None:
            print(
                "Note: the signed card names the address the server is bound to; "
                "give --public-url to sign it for the URL partners use",
                flush=True,
            )

    grpc_server = add_grpc(app, args)

    def announce(port: int) -> None:
        print(f"Serving {app.agent.name} from {label}", flush=True)
        url = card_url(args.host, port, tls="ssl_certfile" in options)
        print(f"Agent card: {url}", flush=True)
        if app.public_url is not None:
            print(f"Advertised as: {app.public_url}", flush=True)
        if grpc_server is not None:
            print(f"gRPC: {grpc_server.url}", flush=True)
        if telemetry is not None:
            print(describe(telemetry), flush=True)
        if console is not None:
            # The console reaches the agent over this machine's own address.
            console.agent_url = url.split("/.well-known/")[0]
            print(f"Console: {console.agent_url}/console/", flush=True)

    from accord.server.tuning import tune_gc

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and self.servers and self.servers[0].sockets:
                announce(int(self.servers[0].sockets[0].getsockname()[1]))
                tune_gc()  # the app is built and listening: freeze the long-lived part

        async def shutdown(self, sockets: Any = None) -> None:
            # uvicorn waits for open connections before the lifespan shutdown: start
            # the app's shutdown first (on the event loop, not in the signal handler),
            # so streams and blocking calls get their task's final state and close.
            app.begin_shutdown()
            await super().shutdown(sockets=sockets)

        async def on_tick(self, counter: int) -> bool:
            # An engine that stopped on its own refuses every request: exit, so that
            # a supervisor restarts the instance rather than keep a dead one.
            return app.failure is not None or await super().on_tick(counter)

    config = uvicorn.Config(
        served,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        lifespan="on",
        timeout_graceful_shutdown=math.ceil(app.shutdown_grace + INTERRUPT_MARGIN),
        proxy_headers=False,  # the app checks forwarded headers (--forwarded-allow-ips)
        **options,
        **uvicorn_logging(args),
    )
    server = Server(config)
    with _accord_logging(args.log_level, log_formatter(args)), _swallow_signal_replay():
        try:
            server.run()
        except SystemExit as exit_:  # uvicorn exits when it cannot bind or start
            if exit_.code not in (0, None):
                print(
                    "accord: the server could not start (see the log above)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
        finally:
            if telemetry is not None:
                telemetry.shutdown()  # the last spans and metrics go out
    if app.failure is not None:
        print(
            f"accord: the agent's engine stopped while serving ({app.failure}); "
            "exiting so that the instance is restarted (the log above has the "
            "traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def add_grpc(app: A2AApp, args: argparse.Namespace) -> GrpcServer | None:
    """With ``--grpc-port``: a gRPC front end over the app's engine, started and
    stopped with it (TLS from the ``--ssl-*`` files); None without the flag.

    Raises:
        ModuleNotFoundError: the grpc extra is not installed (the CLI says which).
    """
    port = getattr(args, "grpc_port", None)
    if port is None:
        return None
    from accord.grpc import GrpcServer, server_credentials

    credentials = None
    if getattr(args, "ssl_certfile", None):
        credentials = server_credentials(
            args.ssl_certfile,
            args.ssl_keyfile,
            ca_certs=args.ssl_ca_certs,
            require_client_cert=(args.ssl_client_cert or "required") == "required",
        )
    server = GrpcServer(
        app.engine,
        host=args.host,
        port=port,
        credentials=credentials,
        limits=app.limits,
        public_url=getattr(args, "grpc_public_url", None),
    )
    app.add_front_end(lambda engine: server.serving())
    return server


@contextmanager
def _accord_logging(level: str, formatter: logging.Formatter) -> Iterator[None]:
    """Send ``accord.*`` log records to stderr at the server's level while serving."""
    logger = logging.getLogger("accord")
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if level == "trace" else level.upper())
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


@contextmanager
def _swallow_signal_replay() -> Iterator[None]:
    """Ignore the SIGINT/SIGTERM uvicorn re-raises after its graceful shutdown.

    uvicorn restores the previous handlers and then re-raises the signal it caught, so
    a SIGTERM would kill the process after a clean shutdown (exit status -15). With
    no-op handlers in place, ``accord serve`` returns 0 instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {
        sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A signal handler that does nothing."""
