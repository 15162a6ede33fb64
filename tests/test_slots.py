"""accord._slots: the setters of a frozen, slotted dataclass's slots."""

from __future__ import annotations

import dataclasses

import pytest

from accord._slots import slot_setters


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Pair:
    left: int
    right: str

    def __init__(self, left: int, right: str) -> None:
        _set_left(self, left)
        _set_right(self, right)

    @property
    def both(self) -> str:
        return f"{self.left}{self.right}"


_set_left, _set_right = slot_setters(Pair, "left", "right")


def test_a_value_built_with_the_setters_is_the_dataclass_it_was() -> None:
    pair = Pair(1, "a")
    assert (pair.left, pair.right) == (1, "a")
    assert pair == Pair(1, "a")
    assert hash(pair) == hash(Pair(1, "a"))
    assert repr(pair) == "Pair(left=1, right='a')"
    assert dataclasses.replace(pair, right="b") == Pair(1, "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.left = 2  # type: ignore[misc]


@pytest.mark.parametrize("name", ["missing", "both", "__init__"])
def test_a_name_that_is_not_a_slot_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=f"Pair.{name} is not a slot"):
        slot_setters(Pair, name)
