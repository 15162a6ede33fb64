"""Sans-IO protocol core: operations, lifecycle, errors table, versioning, SSE.

No I/O, no clock, no randomness, no ``async``: values and bytes in, values and bytes out.
"""

from __future__ import annotations

from . import errors, lifecycle, operations, sse, versioning
from .operations import BY_METHOD, OPERATIONS, Capability, Operation, RestRoute, op

__all__ = [
    "BY_METHOD",
    "OPERATIONS",
    "Capability",
    "Operation",
    "RestRoute",
    "errors",
    "lifecycle",
    "op",
    "operations",
    "sse",
    "versioning",
]
