"""``accord serve``'s option groups beyond the basics: the public URL and CORS, the
connection limits, and the operations options (quotas, audit trail)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._argtypes import count, days, rate_limit, seconds

if TYPE_CHECKING:
    import argparse

__all__ = ["connection_limits", "operations_options", "public_options"]


def public_options(serve: argparse.ArgumentParser) -> None:
    """``serve``: the advertised URL, trusted proxies and CORS."""
    public = serve.add_argument_group("public URL, proxies and CORS")
    public.add_argument(
        "--public-url",
        metavar="URL",
        help="the base URL the agent card advertises (e.g. "
        "https://agents.example.com/echo); request headers then play no part",
    )
    public.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="proxies (comma-separated IPs / CIDRs, or *) whose X-Forwarded-Host / "
        "X-Forwarded-Proto are believed (default: $FORWARDED_ALLOW_IPS, else "
        "127.0.0.1,::1)",
    )
    public.add_argument(
        "--cors-allow-origins",
        metavar="ORIGINS",
        help="origins (comma-separated, or *) whose pages may call the endpoints "
        "(default: none; the agent card is always readable from any origin)",
    )
    public.add_argument(
        "--cors-allow-credentials",
        action="store_true",
        help="let those pages send browser credentials (cookies, client "
        "certificates); needs explicit --cors-allow-origins",
    )


def connection_limits(serve: argparse.ArgumentParser) -> None:
    """``serve``'s connection-limit flags (defaults: ``ConnectionLimits``, tested)."""
    limits = serve.add_argument_group(
        "connection limits",
        "Bounds on what a client can make the server hold (docs/security.md, "
        "'Connection and header limits').",
    )
    limits.add_argument(
        "--limit-connections",
        type=count(1),
        metavar="N",
        help="open connections at once; one more is answered 503 with Retry-After "
        "and closed (default: 1000, at most `ulimit -n` - 64)",
    )
    limits.add_argument(
        "--max-header-bytes",
        type=count(256),
        metavar="BYTES",
        help="request line + headers; beyond: 431 (default: 32768)",
    )
    limits.add_argument(
        "--max-headers",
        type=count(1),
        metavar="N",
        help="header fields per request; beyond: 431 (default: 100)",
    )
    limits.add_argument(
        "--max-request-line",
        type=count(16),
        metavar="BYTES",
        help="request target (URL) length; beyond: 414 (default: 8192)",
    )
    limits.add_argument(
        "--header-timeout",
        type=seconds,
        metavar="SECONDS",
        help="time to send the request headers; beyond: 408 and close (default: 10)",
    )
    limits.add_argument(
        "--body-timeout",
        type=seconds,
        metavar="SECONDS",
        help="time to send the request body after its headers; beyond: 408 and "
        "close (default: 60)",
    )
    limits.add_argument(
        "--keep-alive-timeout",
        type=seconds,
        metavar="SECONDS",
        help="idle time a keep-alive connection waits for its next request "
        "(default: 5)",
    )


def operations_options(serve: argparse.ArgumentParser) -> None:
    """``serve``: quotas (docs/how-to/quotas.md) and the audit trail."""
    serve.add_argument(
        "--rate-limit",
        type=rate_limit,
        metavar="RATE",
        help="requests each caller (tenant and principal) may make: N/s, N/min or "
        "N/h, optionally with a burst (5/s:20); beyond it, 429 with Retry-After",
    )
    serve.add_argument(
        "--limits",
        metavar="FILE",
        help="quotas from a TOML file: rates and running tasks per caller, tenant "
        "and skill, kept in this process or in Redis (docs/how-to/quotas.md)",
    )
    serve.add_argument(
        "--audit",
        action="store_true",
        help="record every operation and task state change in --db's audit trail, "
        "hash-chained per tenant (read it with `accord audit`)",
    )
    serve.add_argument(
        "--audit-keep",
        type=days,
        metavar="DAYS",
        help="with --audit: delete audit records older than DAYS while serving "
        "(hourly; each chain stays verifiable)",
    )
