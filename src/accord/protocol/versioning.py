"""A2A-Version negotiation (spec §3.6).

A request names the protocol version it speaks in the ``A2A-Version`` header (or the
``A2A-Version`` query parameter for HTTP). A missing or empty value means ``0.3``
(spec §3.6.2). Patch numbers are ignored (``1.0.2`` is ``1.0``). A version the
interface does not serve is refused with VersionNotSupportedError, which lists the
versions that are served.

The value has the form ``Major.Minor`` (spec §14.2.1), read strictly: each number is
ASCII digits without a leading zero (``0``, ``1``, ``10``; not ``01`` or ``+1``), at
most 8 of them, so ``01.00`` is malformed rather than a second spelling of ``1.0``.
Only the optional whitespace HTTP allows around a field value (spaces and tabs, RFC
9110 §5.5) is ignored.
"""

from __future__ import annotations

import re

from accord._quote import shorten
from accord.errors import VersionNotSupportedError

__all__ = [
    "CURRENT_VERSION",
    "DEFAULT_VERSION",
    "SUPPORTED_VERSIONS",
    "VERSION_HEADER",
    "negotiate",
    "normalize_version",
]

#: The protocol version this library implements.
CURRENT_VERSION = "1.0"
#: The version a request without ``A2A-Version`` speaks (spec §3.6.2).
DEFAULT_VERSION = "0.3"
#: Versions served. v0.3 joins this when the compatibility adapter exists.
SUPPORTED_VERSIONS: tuple[str, ...] = (CURRENT_VERSION,)
#: Header (and query parameter) name; header names are case-insensitive.
VERSION_HEADER = "A2A-Version"

_NUMBER = r"(0|[1-9][0-9]{0,7})"
_VERSION = re.compile(rf"{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?\Z")
#: Optional whitespace around an HTTP field value (RFC 9110 §5.6.3).
_OWS = " \t"


def normalize_version(value: str | None) -> str:
    """Return ``Major.Minor`` for a header value; empty or missing means ``0.3``.

    Raises:
        VersionNotSupportedError: when the value is not a version number at all.
    """
    text = "" if value is None else value.strip(_OWS)
    if not text:
        return DEFAULT_VERSION
    match = _VERSION.match(text)
    if match is None:
        raise VersionNotSupportedError(
            f"Malformed A2A-Version {shorten(value or '')!r}: expected Major.Minor "
            f"(digits, no leading zeros), e.g. {CURRENT_VERSION!r}",
            metadata={"supportedVersions": ",".join(SUPPORTED_VERSIONS)},
        )
    return f"{match[1]}.{match[2]}"


def negotiate(
    value: str | None, supported: tuple[str, ...] = SUPPORTED_VERSIONS
) -> str:
    """Return the version a request will be served with.

    ``supported`` lists ``Major.Minor`` values (as :func:`normalize_version` returns
    them).

    Raises:
        VersionNotSupportedError: when the requested ``Major.Minor`` is not served; the
            message and the ErrorInfo metadata list the supported versions.
    """
    if value in supported:  # already Major.Minor, and served: nothing to read
        return value
    version = normalize_version(value)
    if version not in supported:
        hint = (
            " (no A2A-Version header was sent, which means 0.3)"
            if value is None or not value.strip(_OWS)
            else ""
        )
        raise VersionNotSupportedError(
            f"A2A-Version {version} is not supported{hint}; "
            f"send A2A-Version: {supported[-1]}. Supported: {', '.join(supported)}",
            metadata={
                "supportedVersions": ",".join(supported),
                "requestedVersion": version,
            },
        )
    return version
