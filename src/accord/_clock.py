"""Fast current timestamps and random ids: called several times per request.

``now_timestamp`` caches the formatted ``YYYY-MM-DDTHH:MM:SS`` prefix of the current
second, and the whole stamp of the current millisecond, so a call costs a
``time.time_ns()`` and at most one concatenation with a ready ``.mmmZ`` (~0.1 us,
against ~3.5 us for ``datetime.now(UTC)`` + ``strftime``). ``new_id`` formats 16 random bytes (from a
batch made ahead, see ``_BATCH``) as a version-4 UUID string without building a
``uuid.UUID`` object.
"""

from __future__ import annotations

import os
import struct
import time

__all__ = ["new_id", "now_timestamp"]

_second = -1
_prefix = ""
_milli = -1
#: The stamp of ``_milli``: the latest one :func:`now_timestamp` returned. Always
#: canonical (even before the first call: not "", which is one shared object), so a
#: TaskStatus given this very string need not check it (accord.types._core).
last_stamp = "1970-01-01T00:00:00.000Z"
#: The ``.mmmZ`` end of a stamp, by millisecond.
_MILLIS = tuple(f".{milli:03d}Z" for milli in range(1000))


def now_timestamp() -> str:
    """The current UTC time as a canonical ProtoJSON timestamp (millisecond precision)."""
    global _second, _prefix, _milli, last_stamp
    # In integers: ``int(time.time() * 1000)`` costs half as much again.
    milli = time.time_ns() // 1_000_000
    if milli == _milli:  # several calls per request fall in the same millisecond
        return last_stamp
    second, rest = divmod(milli, 1000)
    if second != _second:
        _prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = second
    last_stamp = _prefix + _MILLIS[rest]
    _milli = milli
    return last_stamp


#: Ids made at once: one ``os.urandom`` call (a syscall) per batch, and their
#: formatting done by a few C calls over the whole batch instead of a slice and an
#: f-string per id (which cost twice what the rest of a call does). Dropped in a
#: forked child, which must not repeat its parent's ids.
_BATCH = 256
#: Byte 6 of a version 4 UUID is ``0100xxxx`` and byte 8 (the RFC 4122 variant)
#: ``10xxxxxx``: the rest random. Tables for ``bytes.translate``.
_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))
_RFC_4122 = bytes(b & 0x3F | 0x80 for b in range(256))
#: The batch's hex digits, one id after another with a space between two, cut into
#: the UUID's groups (8-4-4-4-12 digits): each id's last group takes the space with
#: it, so that joining every group with "-" leaves " -" between two ids.
_GROUPS = struct.Struct("8s4s4s4s13s" * (_BATCH - 1) + "8s4s4s4s12s")
#: Ids not handed out yet, taken from the end.
_ids: list[str] = []


def _new_batch() -> list[str]:
    raw = bytearray(os.urandom(16 * _BATCH))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_RFC_4122)
    digits = raw.hex(" ", 16).encode()
    return b"-".join(_GROUPS.unpack(digits)).decode().split(" -")


os.register_at_fork(after_in_child=_ids.clear)


def new_id() -> str:
    """A random (version 4) UUID string, e.g. for task and context ids."""
    try:
        return _ids.pop()
    except IndexError:
        _ids.extend(_new_batch())
        return _ids.pop()
