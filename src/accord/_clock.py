"""Fast current timestamps and random ids: called several times per request.

``now_timestamp`` caches the formatted ``YYYY-MM-DDTHH:MM:SS.`` prefix of the current
second, and the whole stamp of the current millisecond, so a call costs a
``time.time()`` and at most one small f-string (~0.1 us, against ~3.5 us for
``datetime.now(UTC)`` + ``strftime``). ``new_id`` formats 16 random bytes (from a
read-ahead buffer of ``os.urandom``) as a version-4 UUID string without building a
``uuid.UUID`` object.
"""

from __future__ import annotations

import os
import time

__all__ = ["new_id", "now_timestamp"]

_second = -1
_prefix = ""
_milli = -1
_stamp = ""


def now_timestamp() -> str:
    """The current UTC time as a canonical ProtoJSON timestamp (millisecond precision)."""
    global _second, _prefix, _milli, _stamp
    milli = int(time.time() * 1000)
    if milli == _milli:  # several calls per request fall in the same millisecond
        return _stamp
    second, rest = divmod(milli, 1000)
    if second != _second:
        _prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        _second = second
    _stamp = f"{_prefix}{rest:03d}Z"
    _milli = milli
    return _stamp


#: Random bytes read ahead for ids: one ``os.urandom`` call (a syscall) per 256 ids
#: instead of one per id. Dropped in a forked child, which must not repeat its
#: parent's ids.
_POOL_BYTES = 4096
_pool = b""
_taken = _POOL_BYTES


def _drop_pool() -> None:
    global _pool, _taken
    _pool, _taken = b"", _POOL_BYTES


os.register_at_fork(after_in_child=_drop_pool)


def new_id() -> str:
    """A random (version 4) UUID string, e.g. for task and context ids."""
    global _pool, _taken
    if _taken >= _POOL_BYTES:
        _pool, _taken = os.urandom(_POOL_BYTES), 0
    raw = bytearray(_pool[_taken : _taken + 16])
    _taken += 16
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
