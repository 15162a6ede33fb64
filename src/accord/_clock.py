"""Fast current timestamps and random ids: called several times per request.

``now_timestamp`` caches the formatted ``YYYY-MM-DDTHH:MM:SS.`` prefix of the current
second, so a call costs a ``time.time()`` and one small f-string (~0.1 us, against
~3.5 us for ``datetime.now(UTC)`` + ``strftime``). ``new_id`` formats 16 random bytes as
a version-4 UUID string without building a ``uuid.UUID`` object.
"""

from __future__ import annotations

import os
import time

__all__ = ["new_id", "now_timestamp"]

_second = -1
_prefix = ""


def now_timestamp() -> str:
    """The current UTC time as a canonical ProtoJSON timestamp (millisecond precision)."""
    global _second, _prefix
    now = time.time()
    second = int(now)
    if second != _second:
        _prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        _second = second
    return f"{_prefix}{int((now - second) * 1000):03d}Z"


def new_id() -> str:
    """A random (version 4) UUID string, e.g. for task and context ids."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
