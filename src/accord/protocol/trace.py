"""W3C Trace Context: the trace id of a ``traceparent`` value (W3C Trace Context §3.2).

A request that belongs to a distributed trace carries ``traceparent:
00-<trace id>-<parent id>-<flags>``; A2A defines no header of its own for it. Accord
records the trace id in its audit trail (spec §13.4: log security events and audit),
so an audit entry can be found from a trace and back.
"""

from __future__ import annotations

import re

__all__ = ["trace_id_of"]

_TRACEPARENT = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?", re.ASCII
)
_ZERO_TRACE = "0" * 32


def trace_id_of(traceparent: str) -> str:
    """The trace id (32 lowercase hex digits) of a ``traceparent`` value; ``""`` when
    it has none or is malformed.

    Version ``ff`` is invalid and so is an all-zero trace id; a version-00 value has
    exactly four fields, a later version may add more after them (W3C Trace Context
    §3.2.4).
    """
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None:
        return ""
    version, trace, rest = match.groups()
    if version == "ff" or trace == _ZERO_TRACE or (version == "00" and rest):
        return ""
    return trace
