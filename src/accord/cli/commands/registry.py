"""``accord registry serve|register|list|show|remove`` and ``accord discover``.

Theory of operation. ``registry serve`` runs :class:`accord.registry.api.RegistryApp`
under uvicorn (the ``serve`` extra), its store a SQLite file (``--db``, default
``registry.db``) or a ``postgresql://`` URL. Publishers are API keys from
``$ACCORD_REGISTRY_KEYS`` (``NAME=KEY`` for the public registry,
``NAME@TENANT=KEY`` for a private one, separated by commas or spaces; only their
hashes are kept), checked by :mod:`accord.server.auth` as ``accord serve`` checks
callers. Without keys the registry refuses to start unless ``--open`` says anyone
may register. ``--trust`` makes it accept only cards signed with those keys;
``--allow`` lets it fetch cards from hosts or networks the SSRF guard refuses
(private and loopback addresses). Registered agents are re-fetched for health
(``--health-interval``, off with ``--no-health``).

The other commands are clients of a running registry (``--registry URL``, default
``$ACCORD_REGISTRY`` else ``http://127.0.0.1:8700``; ``--api-key``, default
``$ACCORD_REGISTRY_KEY``), built on :mod:`accord.registry.client`. ``discover``
prints the best matches, one per line (``--json`` for the results as JSON).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from .._errors import EXIT_AUTH, EXIT_CONNECT, EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    import argparse
    import socket

    from accord.registry.api import RegistryAuth
    from accord.registry.client import Discovered, RegistryClient
    from accord.security import TrustStore

__all__ = ["DEFAULT_PORT", "KEYS_ENV", "add_registry_parsers", "run"]

#: Where publishers' API keys come from.
KEYS_ENV = "ACCORD_REGISTRY_KEYS"
#: The registry the client commands talk to, and the key they send.
REGISTRY_ENV = "ACCORD_REGISTRY"
KEY_ENV = "ACCORD_REGISTRY_KEY"
#: The port ``registry serve`` listens on by default.
DEFAULT_PORT = 8700

#: The filters of ``discover``: (flag, the RegistryClient.discover argument).
FILTER_FLAGS = (
    ("--skill", "skill"),
    ("--tag", "tag"),
    ("--input-mode", "input_mode"),
    ("--output-mode", "output_mode"),
    ("--provider", "provider"),
    ("--security-scheme", "security_scheme"),
    ("--protocol-version", "protocol_version"),
    ("--binding", "binding"),
    ("--residency", "residency"),
    ("--compliance", "compliance"),
)


def _client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        metavar="URL",
        help=f"the registry (default: ${REGISTRY_ENV}, else "
        f"http://127.0.0.1:{DEFAULT_PORT})",
    )
    _access_flags(parser)


def _access_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-key", metavar="KEY", help=f"publisher key (default: ${KEY_ENV})"
    )
    parser.add_argument("--tenant", help="a private registry's tenant")
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="per call"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_registry_parsers(commands: Any) -> None:
    """Add ``registry ...`` and ``discover``."""
    registry = commands.add_parser(
        "registry", help="run an agent registry, or register agents in one"
    )
    actions = registry.add_subparsers(
        dest="registry_command", metavar="ACTION", required=True
    )
    serve = actions.add_parser(
        "serve",
        help="run a registry (ARD search, registration, MCP v0.1 read API)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    serve.add_argument(
        "--db",
        default="registry.db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default: registry.db)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--public-url", metavar="URL", help="base URL in answers")
    serve.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="JWKS_FILE_OR_URL",
        help="accept only cards signed with these keys (repeatable)",
    )
    serve.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="HOST_OR_CIDR",
        help="let the registry fetch cards there despite the SSRF guard (repeatable)",
    )
    serve.add_argument(
        "--open",
        action="store_true",
        help=f"anyone may register (no ${KEYS_ENV} needed)",
    )
    serve.add_argument(
        "--health-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="re-fetch cards this often when they say nothing (default: 300)",
    )
    serve.add_argument(
        "--no-health", action="store_true", help="never re-fetch registered cards"
    )
    serve.set_defaults(module="registry", action="serve")

    register = actions.add_parser("register", help="register an agent by its URL")
    register.add_argument("agent", metavar="AGENT_URL")
    _client_flags(register)
    register.set_defaults(module="registry", action="register")

    listing = actions.add_parser("list", help="list registered agents")
    listing.add_argument("--limit", type=int, default=100)
    _client_flags(listing)
    listing.set_defaults(module="registry", action="list")

    show = actions.add_parser("show", help="an agent's entry, health and card versions")
    show.add_argument("identifier", metavar="ID")
    _client_flags(show)
    show.set_defaults(module="registry", action="show")

    remove = actions.add_parser("remove", help="forget an agent")
    remove.add_argument("identifier", metavar="ID")
    _client_flags(remove)
    remove.set_defaults(module="registry", action="remove")

    discover = commands.add_parser(
        "discover",
        help="find agents in a registry",
        description="Search REGISTRY for agents matching TEXT and every filter; "
        "print the best first.",
    )
    discover.add_argument("registry", metavar="REGISTRY", help="the registry's URL")
    discover.add_argument("text", metavar="TEXT", nargs="?", default="")
    for flag, dest in FILTER_FLAGS:
        discover.add_argument(flag, dest=dest, action="append", metavar="VALUE")
    discover.add_argument("--limit", type=int, default=10)
    _access_flags(discover)
    discover.set_defaults(module="registry", action="discover")


def run(args: argparse.Namespace) -> int:
    """Run the command ``args`` names."""
    if args.action == "serve":
        return _serve(args)
    import anyio

    from accord.errors import ConnectError, TimeoutError
    from accord.registry.client import RegistryError

    try:
        code: int = anyio.run(_CLIENT_ACTIONS[args.action], args)
    except (ConnectError, TimeoutError) as exc:
        print(f"accord: {exc}", file=sys.stderr)
        return EXIT_CONNECT
    except RegistryError as exc:
        if exc.status_code in (401, 403):
            print(
                f"accord: {exc} — pass a publisher's key with --api-key (or "
                f"${KEY_ENV})",
                file=sys.stderr,
            )
            return EXIT_AUTH
        print(f"accord: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return code


# --- serve ----------------------------------------------------------------------------

_KEY_ENTRY = re.compile(r"([^=@\s]+)(?:@([A-Za-z0-9._~-]+))?=(\S+)")


def publishers(value: str) -> RegistryAuth:
    """The :class:`RegistryAuth` of a ``$ACCORD_REGISTRY_KEYS`` value.

    Raises:
        UsageError: an entry is not ``NAME=KEY`` or ``NAME@TENANT=KEY``, or a key
            is too short.
    """
    from accord.registry.api import RegistryAuth
    from accord.server.auth import ApiKeyRing, ApiKeyVerifier
    from accord.types import APIKeySecurityScheme, SecurityScheme

    ring = ApiKeyRing()
    for entry in (e for e in re.split(r"[,\s]+", value) if e):
        matched = _KEY_ENTRY.fullmatch(entry)
        if matched is None:
            raise UsageError(
                f"${KEYS_ENV}: an entry is not NAME=KEY or NAME@TENANT=KEY"
            )
        name, tenant, key = matched.groups()
        try:
            ring.add(key, principal=name, tenant=tenant or "")
        except ValueError as exc:
            raise UsageError(f"${KEYS_ENV}: {name}: {exc}") from None
    if not len(ring):
        raise UsageError(f"${KEYS_ENV} is set but lists no key")
    scheme = SecurityScheme(
        api_key_security_scheme=APIKeySecurityScheme(
            location="header", name="X-API-Key", description="a publisher's key"
        )
    )
    return RegistryAuth({"apiKey": scheme}, {"apiKey": ApiKeyVerifier(ring)})


def _trust(sources: list[str]) -> TrustStore | None:
    if not sources:
        return None
    from accord.security import TrustStore

    from .card import _is_url, _pinned_keys

    pinned = [k for s in sources if not _is_url(s) for k in _pinned_keys(s)]
    return TrustStore(keys=pinned, jwks_urls=[s for s in sources if _is_url(s)])


def _serve(args: argparse.Namespace) -> int:
    from accord.egress import EgressPolicy
    from accord.registry.api import RegistryApp
    from accord.registry.health import HealthSettings

    keys = os.environ.get(KEYS_ENV, "").strip()
    if not keys and not args.open:
        raise UsageError(
            f"no publishers: set ${KEYS_ENV} (NAME=KEY, NAME@TENANT=KEY, ...) or pass "
            "--open to let anyone register"
        )
    try:
        egress = EgressPolicy.from_strings(args.allow, require_https=False)
        health = (
            None
            if args.no_health
            else HealthSettings(
                interval=args.health_interval,
                min_interval=min(30.0, args.health_interval),
            )
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    app = RegistryApp(
        args.db,
        auth=publishers(keys) if keys else None,
        trust=_trust(args.trust),
        egress=egress,
        public_url=args.public_url,
        health=health,
    )
    return _run_uvicorn(app, args.host, args.port)


def _run_uvicorn(app: Any, host: str, port: int) -> int:

    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    started = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await started(sockets=sockets)
        for listening in server.servers:
            for sock in listening.sockets:
                bound = sock.getsockname()[1]
                print(f"registry listening on http://{host}:{bound}", flush=True)
                return

    server.startup = startup  # type: ignore[method-assign]
    from .serve import _swallow_signal_replay

    # Ctrl-C or SIGTERM: uvicorn shuts down (the lifespan closes the store) and the
    # command exits 0, as `accord serve` does.
    with _swallow_signal_replay():
        try:
            server.run()
        except SystemExit as exit_:  # uvicorn exits when it cannot bind or start
            if exit_.code not in (0, None):
                print(
                    "accord: the registry could not start (see the log above)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
    return EXIT_OK


# --- client commands ------------------------------------------------------------------


def _client(args: argparse.Namespace, url: str | None = None) -> RegistryClient:
    from accord.registry.client import RegistryClient

    target = url or args.registry or os.environ.get(REGISTRY_ENV)
    return RegistryClient(
        target or f"http://127.0.0.1:{DEFAULT_PORT}",
        tenant=args.tenant,
        api_key=args.api_key or os.environ.get(KEY_ENV),
        timeout=args.timeout,
    )


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


async def _register(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        result = await client.register(args.agent)
    if args.json:
        _print_json(result)
        return EXIT_OK
    print(f"{result['status']}: {result['identifier']} (card v{result['cardVersion']})")
    if result.get("drift"):
        print("  drift: the card changed but its version did not")
    if result.get("breaking"):
        print("  breaking: the change breaks partners (see `accord registry show`)")
    return EXIT_OK


def _line(found: Discovered) -> str:
    flags = " drift" if found.drift else ""
    if found.raw.get("metadata", {}).get("guarantees") == "breached":
        flags += " guarantees-breached"
    return (
        f"{found.score:>3}  {found.name}  [{found.status}{flags}]  {found.agent_url}"
        f"\n     {found.identifier}"
        + (f"\n     skills: {', '.join(found.skills)}" if found.skills else "")
    )


async def _list(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        found, _ = await client.discover("", limit=max(1, min(args.limit, 100)))
    if args.json:
        _print_json([dict(f.raw) for f in found])
        return EXIT_OK
    for item in found:
        print(f"{item.identifier}  {item.name}  [{item.status}]")
    if not found:
        print("no agents registered (add one with `accord registry register URL`)")
    return EXIT_OK


async def _show(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        entry = await client.get(args.identifier)
        versions = await client.versions(args.identifier)
    if args.json:
        _print_json({**entry, "versions": versions})
        return EXIT_OK
    health = entry["health"]
    latency = health.get("latencyMs")
    print(f"{entry['displayName']}  {entry['identifier']}")
    print(f"  card: {entry['url']}")
    print(f"  pin:  {entry['metadata']['pin']}")
    print(
        f"  health: {health['status']}"
        + (f", {latency:.1f} ms" if latency is not None else "")
        + (f" ({health['error']})" if health.get("error") else "")
    )
    for version in versions:
        flags = [
            name
            for name, on in (
                ("drift", version["versionUnchanged"]),
                ("breaking", version["breaking"]),
            )
            if on
        ]
        changes = (version.get("diff") or {}).get("changes", [])
        print(
            f"  v{version['number']}  {version['pin'][:19]}…"
            + (f"  [{', '.join(flags)}]" if flags else "")
        )
        for change in changes:
            print(f"      {change['impact']:<10} {change['rule']}  {change['path']}")
    return EXIT_OK


async def _remove(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        await client.remove(args.identifier)
    print(f"removed {args.identifier}")
    return EXIT_OK


async def _discover(args: argparse.Namespace) -> int:
    filters = {dest: getattr(args, dest) for _, dest in FILTER_FLAGS}
    async with _client(args, args.registry) as client:
        found, _ = await client.discover(
            args.text, limit=max(1, min(args.limit, 100)), **filters
        )
    if args.json:
        _print_json([dict(f.raw) for f in found])
        return EXIT_OK
    for item in found:
        print(_line(item))
    if not found:
        print("no agent matches")
    return EXIT_OK


_CLIENT_ACTIONS = {
    "register": _register,
    "list": _list,
    "show": _show,
    "remove": _remove,
    "discover": _discover,
}
