"""Fast constructors for frozen, slotted dataclasses built on every request.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__``, several times the cost of the slot's own descriptor. The few
such values a request builds (its call context, its JSON-RPC call, task records and
scopes) write their ``__init__`` out with the setters :func:`slot_setters` returns:
the class stays frozen (assignment still raises ``FrozenInstanceError``; equality,
hash, repr and ``dataclasses.replace`` are the dataclass's).
"""

from __future__ import annotations

from types import MemberDescriptorType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["slot_setters"]


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """The descriptors' setters of ``cls``'s slots ``names``, in that order.

    Raises:
        TypeError: a name is not a slot of ``cls`` (misspelt, or the class has no
            ``slots=True``).
    """
    setters = []
    for name in names:
        slot = cls.__dict__.get(name)
        if not isinstance(slot, MemberDescriptorType):
            raise TypeError(f"{cls.__qualname__}.{name} is not a slot")
        setters.append(slot.__set__)
    return tuple(setters)
