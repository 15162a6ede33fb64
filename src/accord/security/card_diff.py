"""What changed between two versions of an agent card, and whether partners break.

Theory of operation. A card is a contract (spec §4.4): partners choose an interface
from ``supportedInterfaces`` (spec §8.3.2), send the media types the skills accept,
authenticate as ``securityRequirements`` ask (spec §4.5) and rely on the declared
capabilities. :func:`diff_cards` compares two cards member by member and reports each
difference as a :class:`Change` named by a rule of :data:`RULES`, the one table that
says how much each kind of change matters (:class:`Impact`):

* **breaking**: something a partner may rely on is gone or stricter;
* **compatible**: something was added; what worked before still works;
* **cosmetic**: text for people (names, descriptions, examples, links).

Comparisons follow the card's meaning, not its bytes: media types, tags and
protocol-version lists are sets; skills are matched by ``id``, extensions by ``uri``,
security schemes by name, interfaces by binding and protocol version; a skill
without its own ``inputModes`` uses the card's defaults (spec §4.4), so moving a mode
between the two is no change. Security requirements are alternatives, each a set of
schemes with scopes (spec §4.5); new requirements are *stricter* when some caller
that satisfied an old alternative satisfies no new one, and an empty list (nothing
required) is the one alternative that asks for nothing.

*Pins and versions.* Each side's :func:`~.pins.card_pin` (RFC 8785 canonical JSON
without ``signatures``) is part of the result, so "changed" means the pins differ,
and a re-signed card is unchanged. When the pins differ but no rule matched (a member
reordered, a default written out), one cosmetic ``card.other`` change says so: a
changed card always lists at least one change. A card that changed while its
``version`` did not is flagged (:attr:`CardDiff.version_unchanged`); when both
versions look like semantic versions (``1.4.2``, ``v2.0``), a breaking change
without a major bump (a minor bump below 1.0) is flagged too
(:attr:`CardDiff.unannounced_break`).

This module does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from accord.protocol.handshake import promised
from accord.types import decode_json, encode

from .pins import card_pin

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from accord.types import AgentCard, AgentSkill, SecurityRequirement

__all__ = ["RULES", "CardDiff", "Change", "Impact", "Rule", "diff_cards"]


class Impact(StrEnum):
    """How much a change matters to the agent's partners."""

    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    COSMETIC = "cosmetic"


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of change and its impact."""

    impact: Impact
    meaning: str


def _rules(*rows: tuple[str, Impact, str]) -> Mapping[str, Rule]:
    return MappingProxyType(
        {name: Rule(impact, meaning) for name, impact, meaning in rows}
    )


_B, _C, _S = Impact.BREAKING, Impact.COMPATIBLE, Impact.COSMETIC

#: Every kind of change :func:`diff_cards` reports, by name, with its impact.
RULES: Mapping[str, Rule] = _rules(
    ("skill.removed", _B, "a skill is gone"),
    ("skill.added", _C, "a new skill"),
    ("skill.inputModes.removed", _B, "a skill no longer accepts a media type"),
    ("skill.inputModes.added", _C, "a skill accepts another media type"),
    ("skill.outputModes.removed", _B, "a skill no longer produces a media type"),
    ("skill.outputModes.added", _C, "a skill may produce another media type"),
    ("skill.security.stricter", _B, "a skill asks for more to authenticate"),
    ("skill.security.looser", _C, "a skill accepts more ways to authenticate"),
    ("skill.tags", _S, "a skill's tags changed"),
    ("skill.name", _S, "a skill was renamed"),
    ("skill.description", _S, "a skill's description changed"),
    ("skill.examples", _S, "a skill's examples changed"),
    ("defaultInputModes.removed", _B, "the card no longer accepts a media type"),
    ("defaultInputModes.added", _C, "the card accepts another media type"),
    ("defaultOutputModes.removed", _B, "the card no longer produces a media type"),
    ("defaultOutputModes.added", _C, "the card may produce another media type"),
    ("capability.off", _B, "a capability is no longer offered"),
    ("capability.on", _C, "a new capability"),
    ("extension.removed", _B, "an extension is gone"),
    ("extension.added.required", _B, "a new extension every caller must activate"),
    ("extension.added", _C, "a new optional extension"),
    ("extension.required", _B, "an extension became required"),
    ("extension.optional", _C, "an extension is no longer required"),
    ("extension.params", _C, "an extension's parameters changed (same URI)"),
    ("extension.description", _S, "an extension's description changed"),
    ("securityScheme.removed", _B, "a security scheme is gone"),
    ("securityScheme.added", _C, "a new security scheme"),
    ("securityScheme.changed", _B, "a security scheme works differently"),
    ("securityScheme.description", _S, "a security scheme's description changed"),
    ("security.stricter", _B, "the card asks for more to authenticate"),
    ("security.looser", _C, "the card accepts more ways to authenticate"),
    ("interface.removed", _B, "a binding and protocol version is no longer served"),
    ("interface.added", _C, "a new binding or protocol version"),
    ("interface.moved", _B, "an interface's URL or tenant changed"),
    ("interface.endpoint.added", _C, "another URL or tenant for an interface"),
    ("interface.preferred", _C, "the preferred (first) interface changed"),
    ("protocolVersion.removed", _B, "a protocol version is no longer served"),
    ("protocolVersion.added", _C, "a new protocol version"),
    ("name", _S, "the agent was renamed"),
    ("description", _S, "the description changed"),
    ("version", _S, "the agent's version changed"),
    ("provider", _S, "the provider changed"),
    ("documentationUrl", _S, "the documentation URL changed"),
    ("iconUrl", _S, "the icon URL changed"),
    ("card.other", _S, "the card changed in form only (order, defaults written out)"),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two cards.

    Attributes:
        rule: its name in :data:`RULES` (e.g. ``skill.removed``).
        path: where, in the card's JSON terms (``skills[book].inputModes``).
        old: the value before (plain JSON), ``None`` when it was absent.
        new: the value after, ``None`` when it is absent now.
    """

    rule: str
    path: str
    old: Any = None
    new: Any = None

    @property
    def impact(self) -> Impact:
        """The impact of this change's rule."""
        return RULES[self.rule].impact

    @property
    def meaning(self) -> str:
        """What the rule means, in words."""
        return RULES[self.rule].meaning

    def to_json(self) -> dict[str, Any]:
        """The change as a JSON object."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "impact": self.impact.value,
            "path": self.path,
            "meaning": self.meaning,
        }
        if self.old is not None:
            out["old"] = self.old
        if self.new is not None:
            out["new"] = self.new
        return out


_SEMVER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?")


def _semver(version: str) -> tuple[int, int] | None:
    match = _SEMVER.fullmatch(version.strip())
    return (int(match[1]), int(match[2])) if match else None


def _major_bump(old: str, new: str) -> bool | None:
    """Whether ``new`` announces a breaking change over ``old``; ``None`` if unknown.

    Semantic versioning: the major number grew; below 1.0 (where semver promises
    nothing) the minor number growing counts, as most package managers read it.
    """
    before, after = _semver(old), _semver(new)
    if before is None or after is None:
        return None
    if before[0] == 0 and after[0] == 0:
        return after[1] > before[1]
    return after[0] > before[0]


@dataclass(frozen=True, slots=True)
class CardDiff:
    """The differences between an old and a new agent card (:func:`diff_cards`).

    Attributes:
        old_pin, new_pin: each card's :func:`~.pins.card_pin`.
        old_version, new_version: each card's ``version``.
        changes: every change, in card order (skills, modes, capabilities, security,
            interfaces, then the descriptive members).
    """

    old_pin: str
    new_pin: str
    old_version: str
    new_version: str
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        """The pins are equal: nothing a partner could notice changed."""
        return self.old_pin == self.new_pin

    @property
    def impact(self) -> Impact | None:
        """The largest impact among the changes; ``None`` when there are none."""
        for impact in Impact:  # declared from the largest down
            if any(c.impact is impact for c in self.changes):
                return impact
        return None

    def of(self, impact: Impact) -> tuple[Change, ...]:
        """The changes with ``impact``."""
        return tuple(c for c in self.changes if c.impact is impact)

    @property
    def version_unchanged(self) -> bool:
        """The card changed but its ``version`` did not (drift nobody announced)."""
        return not self.identical and self.old_version == self.new_version

    @property
    def unannounced_break(self) -> bool:
        """A breaking change under semantic versions that did not bump the major.

        ``False`` when either version does not look like a semantic version (nothing
        can be said), and when the version is unchanged (:attr:`version_unchanged`
        says that already).
        """
        if not self.of(Impact.BREAKING) or self.version_unchanged:
            return False
        return _major_bump(self.old_version, self.new_version) is False

    def to_json(self) -> dict[str, Any]:
        """The diff as a JSON object (what ``accord card diff --json`` prints)."""
        impact = self.impact
        return {
            "identical": self.identical,
            "impact": impact.value if impact is not None else None,
            "oldPin": self.old_pin,
            "newPin": self.new_pin,
            "oldVersion": self.old_version,
            "newVersion": self.new_version,
            "versionUnchanged": self.version_unchanged,
            "unannouncedBreak": self.unannounced_break,
            "changes": [c.to_json() for c in self.changes],
        }


def diff_cards(old: AgentCard, new: AgentCard) -> CardDiff:
    """Compare ``old`` with ``new``; see the module doc for the rules (figures the
    agent measured are not compared: :func:`accord.protocol.handshake.promised`)."""
    old, new = promised(old), promised(new)
    old_pin, new_pin = card_pin(old), card_pin(new)
    changes: list[Change] = []
    if old_pin != new_pin:
        changes.extend(_skills(old, new))
        for member in ("default_input_modes", "default_output_modes"):
            changes.extend(
                _modes(_camel(member), getattr(old, member), getattr(new, member))
            )
        changes.extend(_capabilities(old, new))
        changes.extend(_schemes(old, new))
        changes.extend(
            _requirements(
                "security",
                "securityRequirements",
                old.security_requirements,
                new.security_requirements,
            )
        )
        changes.extend(_interfaces(old, new))
        changes.extend(_descriptive(old, new))
        if not changes:
            changes.append(Change("card.other", ""))
    return CardDiff(old_pin, new_pin, old.version, new.version, tuple(changes))


# --- the members ---------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` as the plain JSON it is sent as (lists, not tuples)."""
    return decode_json(encode(value))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _sets(
    rule: str, path: str, old: Iterable[str], new: Iterable[str]
) -> Iterator[Change]:
    """``rule.removed`` for each member gone, ``rule.added`` for each new one."""
    before, after = set(old), set(new)
    for value in sorted(before - after):
        yield Change(f"{rule}.removed", path, old=value)
    for value in sorted(after - before):
        yield Change(f"{rule}.added", path, new=value)


def _modes(member: str, old: Sequence[str], new: Sequence[str]) -> Iterator[Change]:
    return _sets(member, member, old, new)


def _by_key(items: Iterable[Any], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(getattr(item, key), item)  # a duplicate key: the first counts
    return out


def _skills(old: AgentCard, new: AgentCard) -> Iterator[Change]:
    before, after = _by_key(old.skills, "id"), _by_key(new.skills, "id")
    for skill_id in before:
        path = f"skills[{skill_id}]"
        if skill_id not in after:
            yield Change("skill.removed", path, old=skill_id)
            continue
        yield from _skill(path, old, before[skill_id], new, after[skill_id])
    for skill_id in after:
        if skill_id not in before:
            yield Change("skill.added", f"skills[{skill_id}]", new=skill_id)


def _skill(
    path: str,
    old_card: AgentCard,
    old: AgentSkill,
    new_card: AgentCard,
    new: AgentSkill,
) -> Iterator[Change]:
    for member, defaults in (
        ("input_modes", "default_input_modes"),
        ("output_modes", "default_output_modes"),
    ):
        mine_old, mine_new = getattr(old, member), getattr(new, member)
        if not mine_old and not mine_new:
            continue  # both use the card's defaults, compared once for the card
        # A skill without its own modes uses the card's (spec §4.4).
        effective_old = mine_old or getattr(old_card, defaults)
        effective_new = mine_new or getattr(new_card, defaults)
        name = _camel(member)
        yield from _sets(
            f"skill.{name}", f"{path}.{name}", effective_old, effective_new
        )
    yield from _requirements(
        "skill.security",
        f"{path}.securityRequirements",
        old.security_requirements,
        new.security_requirements,
    )
    if set(old.tags) != set(new.tags):
        yield Change("skill.tags", f"{path}.tags", list(old.tags), list(new.tags))
    for member in ("name", "description"):
        if getattr(old, member) != getattr(new, member):
            yield Change(
                f"skill.{member}",
                f"{path}.{member}",
                getattr(old, member),
                getattr(new, member),
            )
    if old.examples != new.examples:
        yield Change(
            "skill.examples", f"{path}.examples", list(old.examples), list(new.examples)
        )


def _capabilities(old: AgentCard, new: AgentCard) -> Iterator[Change]:
    for member in ("streaming", "push_notifications", "extended_agent_card"):
        # Absent means false (spec §4.4).
        before = bool(getattr(old.capabilities, member))
        after = bool(getattr(new.capabilities, member))
        if before != after:
            path = f"capabilities.{_camel(member)}"
            yield Change(
                "capability.on" if after else "capability.off", path, before, after
            )
    before_ext = _by_key(old.capabilities.extensions, "uri")
    after_ext = _by_key(new.capabilities.extensions, "uri")
    for uri, ext in before_ext.items():
        path = f"capabilities.extensions[{uri}]"
        if uri not in after_ext:
            yield Change("extension.removed", path, old=uri)
            continue
        now = after_ext[uri]
        if ext.required != now.required:
            rule = "extension.required" if now.required else "extension.optional"
            yield Change(rule, f"{path}.required", ext.required, now.required)
        if _plain(ext.params) != _plain(now.params):
            yield Change(
                "extension.params",
                f"{path}.params",
                _plain(ext.params),
                _plain(now.params),
            )
        if ext.description != now.description:
            yield Change(
                "extension.description",
                f"{path}.description",
                ext.description,
                now.description,
            )
    for uri, ext in after_ext.items():
        if uri not in before_ext:
            # A required extension must be activated by every caller (spec §4.4).
            rule = "extension.added.required" if ext.required else "extension.added"
            yield Change(rule, f"capabilities.extensions[{uri}]", new=uri)


def _scheme_parts(scheme: Any) -> tuple[Any, str]:
    """(the scheme without its description, the description)."""
    ((kind, body),) = _plain(scheme).items()
    body = dict(body)
    description = body.pop("description", "")
    return {kind: body}, description


def _schemes(old: AgentCard, new: AgentCard) -> Iterator[Change]:
    before, after = old.security_schemes, new.security_schemes
    for name in sorted(before):
        path = f"securitySchemes[{name}]"
        if name not in after:
            yield Change("securityScheme.removed", path, old=name)
            continue
        (shape_old, text_old), (shape_new, text_new) = (
            _scheme_parts(before[name]),
            _scheme_parts(after[name]),
        )
        if shape_old != shape_new:
            yield Change("securityScheme.changed", path, shape_old, shape_new)
        if text_old != text_new:
            yield Change(
                "securityScheme.description", f"{path}.description", text_old, text_new
            )
    for name in sorted(after.keys() - before.keys()):
        yield Change("securityScheme.added", f"securitySchemes[{name}]", new=name)


_Alternative = dict[str, frozenset[str]]


def _alternatives(requirements: Sequence[SecurityRequirement]) -> list[_Alternative]:
    """Each way to authenticate: scheme name -> scopes; none required is ``[{}]``."""
    if not requirements:
        return [{}]
    return [
        {name: frozenset(scopes.list) for name, scopes in r.schemes.items()}
        for r in requirements
    ]


def _satisfied_by(need: _Alternative, held: _Alternative) -> bool:
    """A caller holding ``held`` (schemes and scopes) satisfies ``need``."""
    return all(name in held and scopes <= held[name] for name, scopes in need.items())


def _requirements(
    rule: str,
    path: str,
    old: Sequence[SecurityRequirement],
    new: Sequence[SecurityRequirement],
) -> Iterator[Change]:
    before, after = _alternatives(old), _alternatives(new)
    if sorted(map(_sorted_alternative, before)) == sorted(
        map(_sorted_alternative, after)
    ):
        return
    # Stricter when a caller that met some old alternative meets no new one (spec §4.5:
    # the list holds alternatives; the schemes of one are all required).
    stricter = any(not any(_satisfied_by(n, held) for n in after) for held in before)
    yield Change(
        f"{rule}.stricter" if stricter else f"{rule}.looser",
        path,
        [_plain(r) for r in old],
        [_plain(r) for r in new],
    )


def _sorted_alternative(alternative: _Alternative) -> list[tuple[str, list[str]]]:
    return sorted((name, sorted(scopes)) for name, scopes in alternative.items())


def _endpoints(card: AgentCard) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(binding, protocol version) -> its (url, tenant) pairs, in card order."""
    out: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for interface in card.supported_interfaces:
        key = (interface.protocol_binding, interface.protocol_version)
        out.setdefault(key, set()).add((interface.url, interface.tenant))
    return out


def _interfaces(old: AgentCard, new: AgentCard) -> Iterator[Change]:
    before, after = _endpoints(old), _endpoints(new)
    for key, places in before.items():
        path = _interface_path(key)
        if key not in after:
            yield Change("interface.removed", path, old=_places(places))
        elif places - after[key]:
            # Clients that cached the card, or were configured with the URL, still
            # call the old place (spec §8.3.2 picks the URL from the card).
            yield Change("interface.moved", path, _places(places), _places(after[key]))
        elif after[key] - places:
            yield Change(
                "interface.endpoint.added", path, _places(places), _places(after[key])
            )
    for key, places in after.items():
        if key not in before:
            yield Change("interface.added", _interface_path(key), new=_places(places))
    first_old = next(iter(before), None)
    first_new = next(iter(after), None)
    if first_old != first_new and first_old in after and first_new in before:
        # Both still served, but clients now pick another one first (spec §8.3.2).
        yield Change(
            "interface.preferred",
            "supportedInterfaces[0]",
            list(first_old or ()),
            list(first_new or ()),
        )
    versions_old = {key[1] for key in before}
    versions_new = {key[1] for key in after}
    yield from _sets(
        "protocolVersion",
        "supportedInterfaces.protocolVersion",
        versions_old,
        versions_new,
    )


def _interface_path(key: tuple[str, str]) -> str:
    binding, version = key
    return (
        f"supportedInterfaces[{binding} {version}]"
        if version
        else f"supportedInterfaces[{binding}]"
    )


def _places(places: set[tuple[str, str]]) -> list[str]:
    return sorted(
        f"{url} (tenant {tenant})" if tenant else url for url, tenant in places
    )


def _descriptive(old: AgentCard, new: AgentCard) -> Iterator[Change]:
    for member in ("name", "description", "version", "documentation_url", "icon_url"):
        before, after = getattr(old, member), getattr(new, member)
        if before != after:
            yield Change(_camel(member), _camel(member), before, after)
    if old.provider != new.provider:
        yield Change("provider", "provider", _plain(old.provider), _plain(new.provider))
