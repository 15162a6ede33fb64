"""``replace``: the one way to derive an updated value from a frozen one."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

__all__ = ["UNSET", "replace"]

S = TypeVar("S", bound=msgspec.Struct)

#: "Not set" for ``google.protobuf.Value`` fields such as ``Part.data``.
UNSET = msgspec.UNSET


def replace(value: S, **changes: Any) -> S:
    """Return a copy of ``value`` with ``changes`` applied (validation re-runs)."""
    return msgspec.structs.replace(value, **changes)
