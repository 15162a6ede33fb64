"""``replace``: the one way to derive an updated value from a frozen one."""

from __future__ import annotations

import msgspec

__all__ = ["UNSET", "replace"]

#: "Not set" for ``google.protobuf.Value`` fields such as ``Part.data``.
UNSET = msgspec.UNSET

#: ``replace(value, **changes)``: a copy of ``value`` with ``changes`` applied
#: (validation re-runs). msgspec's own function rather than a wrapper around it: the
#: runtime derives a task this way for every event.
replace = msgspec.structs.replace
