"""Data minimisation (sans-IO): what a skill needs, and a message cut down to it.

The agent declares per skill the data it needs (:class:`DataNeeds`): which fields of
the skill's data part carry which category (``{"phone": "phone_number",
"time_window": "time_window"}``). The card declares it under
:data:`MINIMISATION_EXTENSION` (``params.skills``: ``{skill: {"fields": {path:
category}}}``, ``params.inbound``: what the server does with the rest).

:func:`minimise` cuts a message down to the declaration, the same rule on both sides
(the caller before anything leaves, the server on what arrives):

* data parts sent to the skill (JSON objects): a field whose dotted path is declared
  is kept (with everything under it); a field on the way to a declared path is
  descended into; any other field is removed;
* text parts: personal data the detectors find (:mod:`.detectors`) is kept when its
  category is declared, and replaced by ``[withheld: CATEGORY]`` otherwise;
* file parts (``raw``, ``url``) and data parts that are not JSON objects are removed
  unless the skill declares the category ``"file"`` or ``"data"``;
* categories in ``never`` are withheld even when declared (the caller's own line).

The result (:class:`Minimised`) holds the message to send, what was withheld
(:class:`Withheld`: where, which category, removed or redacted) and the categories
that crossed: the report and the audit trail say which categories, never a value.
Message and part metadata are left as they are (routing and extension data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from accord.types import Part, replace

from .detectors import DETECTORS, find

if TYPE_CHECKING:
    from accord.types import Message

__all__ = [
    "FILE",
    "MINIMISATION_EXTENSION",
    "UNDECLARED",
    "DataNeeds",
    "Minimised",
    "Withheld",
    "minimise",
]

#: The extension declaring per-skill data needs in the card.
MINIMISATION_EXTENSION = "urn:accord:a2a:data-minimisation:v1"
#: The category of a field no detector recognises.
UNDECLARED = "undeclared"
#: The category a skill declares to accept files (``raw`` / ``url`` parts).
FILE = "file"
_DATA = "data"


@dataclass(frozen=True, slots=True)
class DataNeeds:
    """The data one skill needs.

    Attributes:
        skill: the skill's id.
        fields: dotted path in the skill's data part -> data category.
        text: categories the skill accepts in free text, beyond those of ``fields``
            (e.g. a phone number written in a sentence).
    """

    skill: str
    fields: Mapping[str, str]
    text: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("data needs name their skill")
        for path, category in self.fields.items():
            if not path or not category:
                raise ValueError(
                    f"{self.skill}: a declared field has a path and a category"
                )
        object.__setattr__(self, "fields", dict(self.fields))
        object.__setattr__(self, "text", tuple(self.text))

    @property
    def categories(self) -> frozenset[str]:
        """Every category the skill declares."""
        return frozenset(self.fields.values()) | frozenset(self.text)

    def declared(self) -> dict[str, Any]:
        """The card's entry for this skill (``params.skills[skill]``)."""
        entry: dict[str, Any] = {"fields": dict(self.fields)}
        if self.text:
            entry["text"] = list(self.text)
        return entry

    @classmethod
    def from_declared(cls, skill: str, entry: Any) -> DataNeeds:
        """Read a card's entry (:meth:`declared`).

        Raises:
            ValueError: the entry is not of that shape.
        """
        if not isinstance(entry, Mapping) or not isinstance(
            entry.get("fields"), Mapping
        ):
            raise ValueError(
                f"{skill}: data needs are {{'fields': {{path: category}}}}"
            )
        fields = entry["fields"]
        text = entry.get("text", [])
        if not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise ValueError(f"{skill}: fields map paths to category names")
        if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
            raise ValueError(f"{skill}: text is a list of category names")
        return cls(skill, fields, tuple(text))


@dataclass(frozen=True, slots=True)
class Withheld:
    """One piece of data that did not cross: where, what category, and how.

    Attributes:
        where: ``message.parts[0].data.email``, ``message.parts[1].text``.
        category: the detected or declared category (:data:`UNDECLARED` when no
            detector knows it).
        action: ``"removed"`` (the field or part is gone) or ``"redacted"`` (text
            replaced by ``[withheld: CATEGORY]``).
    """

    where: str
    category: str
    action: Literal["removed", "redacted"]

    def to_json(self) -> dict[str, str]:
        """As JSON (the report's shape)."""
        return {"where": self.where, "category": self.category, "action": self.action}


@dataclass(frozen=True, slots=True)
class Minimised:
    """A message cut down to a skill's declaration.

    Attributes:
        message: what may be sent (None: nothing is left to send).
        withheld: what was removed or redacted.
        shared: the categories that cross (declared fields present, declared
            categories found in text).
    """

    message: Message | None
    withheld: tuple[Withheld, ...]
    shared: frozenset[str]

    @property
    def changed(self) -> bool:
        """True when something was withheld."""
        return bool(self.withheld)


class _Cut:
    """One minimisation pass (accumulates the report)."""

    def __init__(self, needs: DataNeeds, never: frozenset[str]) -> None:
        self.needs = needs
        self.never = never
        self.withheld: list[Withheld] = []
        self.shared: set[str] = set()

    def allowed(self, category: str) -> bool:
        return category in self.needs.categories and category not in self.never

    def withhold(
        self, where: str, value: Any, action: Literal["removed", "redacted"]
    ) -> None:
        self.withheld.append(Withheld(where, _category_of(value), action))

    def data(self, value: Mapping[str, Any], prefix: str, where: str) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        fields = self.needs.fields
        for name, item in value.items():
            path = f"{prefix}{name}"
            place = f"{where}.{name}"
            category = fields.get(path)
            if category is not None:
                if category in self.never:
                    self.withheld.append(Withheld(place, category, "removed"))
                else:
                    kept[name] = item
                    self.shared.add(category)
            elif isinstance(item, Mapping) and any(
                p.startswith(path + ".") for p in fields
            ):
                kept[name] = self.data(item, path + ".", place)
            else:
                self.withhold(place, item, "removed")
        return kept

    def text(self, text: str, where: str) -> str:
        out: list[str] = []
        last = 0
        for finding in find(text, DETECTORS):
            if self.allowed(finding.category):
                self.shared.add(finding.category)
                continue
            out.append(text[last : finding.start])
            out.append(f"[withheld: {finding.category}]")
            last = finding.end
            self.withheld.append(Withheld(where, finding.category, "redacted"))
        out.append(text[last:])
        return "".join(out)


def _category_of(value: Any) -> str:
    if isinstance(value, str):
        found = find(value)
        if found:
            return found[0].category
    return UNDECLARED


def minimise(
    message: Message,
    needs: DataNeeds,
    *,
    never: Iterable[str] = (),
    whole: bool | None = None,
) -> Minimised:
    """``message`` cut down to ``needs`` (see the module docstring).

    The skill's data parts are those :func:`~accord.protocol.handshake.skill_inputs`
    names: the parts that name the skill (a ``"skill"`` member), and, when ``whole``
    (default: the message's metadata names the skill), the parts that name no skill;
    other data parts are removed.
    """
    if whole is None:
        metadata = message.metadata
        whole = metadata is not None and metadata.get("skill") == needs.skill
    cut = _Cut(needs, frozenset(never))
    parts: list[Part] = []
    for index, part in enumerate(message.parts):
        where = f"message.parts[{index}]"
        kind = part.kind
        if kind == "text":
            assert part.text is not None
            text = cut.text(part.text, f"{where}.text")
            parts.append(part if text == part.text else replace(part, text=text))
        elif (
            kind == "data"
            and isinstance(part.data, Mapping)
            and part.data.get("skill", needs.skill if whole else None) == needs.skill
        ):
            routing = {"skill": part.data["skill"]} if "skill" in part.data else {}
            body = {k: v for k, v in part.data.items() if k != "skill"}
            kept = {**routing, **cut.data(body, "", f"{where}.data")}
            parts.append(part if kept == dict(part.data) else replace(part, data=kept))
        elif cut.allowed(FILE if kind in ("raw", "url") else _DATA):
            cut.shared.add(FILE if kind in ("raw", "url") else _DATA)
            parts.append(part)
        else:
            category = FILE if kind in ("raw", "url") else UNDECLARED
            cut.withheld.append(Withheld(where, category, "removed"))
    if not cut.withheld:
        return Minimised(message, (), frozenset(cut.shared))
    result = replace(message, parts=tuple(parts)) if parts else None
    return Minimised(result, tuple(cut.withheld), frozenset(cut.shared))
