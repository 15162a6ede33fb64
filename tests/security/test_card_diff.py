"""``accord.security.card_diff``: every rule, the version flags, and properties."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given

from accord.security import RULES, Change, Impact, card_pin, diff_cards
from accord.types import AgentCard, AgentCardSignature, convert, replace
from tests.conformance.strategies import strategy_for

BASE: dict[str, Any] = {
    "name": "Scheduler",
    "description": "Books callbacks",
    "supportedInterfaces": [
        {
            "url": "https://a.example/rpc",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "1.0",
        },
        {
            "url": "https://a.example/",
            "protocolBinding": "HTTP+JSON",
            "protocolVersion": "1.0",
        },
    ],
    "provider": {"organization": "Example", "url": "https://example.com"},
    "version": "1.2.0",
    "documentationUrl": "https://a.example/docs",
    "iconUrl": "https://a.example/icon.png",
    "capabilities": {
        "streaming": True,
        "extensions": [{"uri": "https://x.example/ext/v1", "description": "d"}],
    },
    "securitySchemes": {
        "bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer", "description": "t"}},
        "key": {"apiKeySecurityScheme": {"location": "header", "name": "X-Key"}},
    },
    "securityRequirements": [{"schemes": {"bearer": {"list": ["read"]}}}],
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain", "application/json"],
    "skills": [
        {
            "id": "book",
            "name": "Book",
            "description": "Book a callback",
            "tags": ["calendar"],
            "examples": ["tomorrow at 9"],
        },
        {
            "id": "csv",
            "name": "Import",
            "description": "Import a CSV",
            "tags": ["import"],
            "inputModes": ["text/csv", "text/plain"],
        },
    ],
}

Edit = Callable[[dict[str, Any]], object]


def card(edit: Edit | None = None) -> AgentCard:
    """BASE, changed by ``edit`` (which mutates a deep copy)."""
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    return convert(data, AgentCard)


def _skill(data: dict[str, Any], skill_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["skills"] if s["id"] == skill_id)
    return found


def _ext(data: dict[str, Any]) -> dict[str, Any]:
    ext: dict[str, Any] = data["capabilities"]["extensions"][0]
    return ext


#: (an edit of BASE, the rules the diff of BASE -> edited reports, in order).
CASES: dict[str, tuple[Edit, list[str]]] = {
    "skill removed": (lambda d: d["skills"].pop(), ["skill.removed"]),
    "skill added": (
        lambda d: d["skills"].append({"id": "new", "name": "N", "tags": []}),
        ["skill.added"],
    ),
    "skill input mode removed": (
        lambda d: _skill(d, "csv").update(inputModes=["text/plain"]),
        ["skill.inputModes.removed"],
    ),
    "skill input mode added": (
        lambda d: _skill(d, "book").update(inputModes=["text/plain", "audio/wav"]),
        ["skill.inputModes.added"],
    ),
    "skill output mode removed": (
        lambda d: _skill(d, "book").update(outputModes=["text/plain"]),
        ["skill.outputModes.removed"],
    ),
    "skill output mode added": (
        lambda d: _skill(d, "book").update(
            outputModes=["text/plain", "application/json", "text/html"]
        ),
        ["skill.outputModes.added"],
    ),
    "skill security stricter": (
        lambda d: _skill(d, "book").update(
            securityRequirements=[{"schemes": {"key": {"list": []}}}]
        ),
        ["skill.security.stricter"],
    ),
    "skill tags": (
        lambda d: _skill(d, "book").update(tags=["calendar", "phone"]),
        ["skill.tags"],
    ),
    "skill renamed": (
        lambda d: _skill(d, "book").update(name="Booker"),
        ["skill.name"],
    ),
    "skill description": (
        lambda d: _skill(d, "book").update(description="Books"),
        ["skill.description"],
    ),
    "skill examples": (
        lambda d: _skill(d, "book").update(examples=[]),
        ["skill.examples"],
    ),
    "default input mode removed": (
        lambda d: d.update(defaultInputModes=[]),
        ["defaultInputModes.removed"],
    ),
    "default input mode added": (
        lambda d: d.update(defaultInputModes=["text/plain", "image/png"]),
        ["defaultInputModes.added"],
    ),
    "default output mode removed": (
        lambda d: d.update(defaultOutputModes=["text/plain"]),
        ["defaultOutputModes.removed"],
    ),
    "default output mode added": (
        lambda d: d.update(
            defaultOutputModes=["text/plain", "application/json", "text/csv"]
        ),
        ["defaultOutputModes.added"],
    ),
    "streaming off": (
        lambda d: d["capabilities"].pop("streaming"),
        ["capability.off"],
    ),
    "push on": (
        lambda d: d["capabilities"].update(pushNotifications=True),
        ["capability.on"],
    ),
    "extension removed": (
        lambda d: d["capabilities"].update(extensions=[]),
        ["extension.removed"],
    ),
    "required extension added": (
        lambda d: d["capabilities"]["extensions"].append(
            {"uri": "https://x.example/must/v1", "required": True}
        ),
        ["extension.added.required"],
    ),
    "optional extension added": (
        lambda d: d["capabilities"]["extensions"].append(
            {"uri": "https://x.example/may/v1"}
        ),
        ["extension.added"],
    ),
    "extension required": (
        lambda d: _ext(d).update(required=True),
        ["extension.required"],
    ),
    "extension params": (
        lambda d: _ext(d).update(params={"a": 1}),
        ["extension.params"],
    ),
    "extension description": (
        lambda d: _ext(d).update(description="other"),
        ["extension.description"],
    ),
    "scheme removed": (
        lambda d: d["securitySchemes"].pop("key"),
        ["securityScheme.removed"],
    ),
    "scheme added": (
        lambda d: d["securitySchemes"].update(mtls={"mtlsSecurityScheme": {}}),
        ["securityScheme.added"],
    ),
    "scheme changed": (
        lambda d: d["securitySchemes"]["key"]["apiKeySecurityScheme"].update(
            location="query"
        ),
        ["securityScheme.changed"],
    ),
    "scheme description": (
        lambda d: d["securitySchemes"]["bearer"]["httpAuthSecurityScheme"].update(
            description="token"
        ),
        ["securityScheme.description"],
    ),
    "requirement gains a scope": (
        lambda d: d.update(
            securityRequirements=[{"schemes": {"bearer": {"list": ["read", "write"]}}}]
        ),
        ["security.stricter"],
    ),
    "requirement becomes an alternative": (
        lambda d: d["securityRequirements"].append({"schemes": {"key": {"list": []}}}),
        ["security.looser"],
    ),
    "no requirement at all": (
        lambda d: d.update(securityRequirements=[]),
        ["security.looser"],
    ),
    "interface removed": (
        lambda d: d["supportedInterfaces"].pop(),
        ["interface.removed"],
    ),
    "interface added": (
        lambda d: d["supportedInterfaces"].append(
            {
                "url": "a.example:50051",
                "protocolBinding": "GRPC",
                "protocolVersion": "1.0",
            }
        ),
        ["interface.added"],
    ),
    "interface moved": (
        lambda d: d["supportedInterfaces"][0].update(url="https://b.example/rpc"),
        ["interface.moved"],
    ),
    "interface tenant": (
        lambda d: d["supportedInterfaces"][0].update(tenant="t1"),
        ["interface.moved"],
    ),
    "interface endpoint added": (
        lambda d: d["supportedInterfaces"].append(
            {**d["supportedInterfaces"][0], "url": "https://b.example/rpc"}
        ),
        ["interface.endpoint.added"],
    ),
    "preferred interface": (
        lambda d: d["supportedInterfaces"].reverse(),
        ["interface.preferred"],
    ),
    "protocol version added": (
        lambda d: d["supportedInterfaces"].append(
            {
                "url": "https://a.example/v03",
                "protocolBinding": "JSONRPC",
                "protocolVersion": "0.3",
            }
        ),
        ["interface.added", "protocolVersion.added"],
    ),
    "name": (lambda d: d.update(name="Callbacks"), ["name"]),
    "description": (lambda d: d.update(description="x"), ["description"]),
    "version": (lambda d: d.update(version="1.2.1"), ["version"]),
    "documentation": (lambda d: d.pop("documentationUrl"), ["documentationUrl"]),
    "icon": (lambda d: d.update(iconUrl="https://a.example/i.svg"), ["iconUrl"]),
    "provider": (lambda d: d["provider"].update(organization="Other"), ["provider"]),
    "form only": (lambda d: d["defaultOutputModes"].reverse(), ["card.other"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule(name: str) -> None:
    edit, rules = CASES[name]
    diff = diff_cards(card(), card(edit))
    assert [c.rule for c in diff.changes] == rules
    assert not diff.identical
    worst = min((RULES[r].impact for r in rules), key=list(Impact).index)
    assert diff.impact is worst
    assert diff.of(worst)


def test_every_rule_has_a_case() -> None:
    covered = {rule for _, rules in CASES.values() for rule in rules}
    # The protocol version removal shows with an interface removal.
    covered |= {
        "protocolVersion.removed",
        "skill.security.looser",
        "extension.optional",
    }
    assert covered == set(RULES)


def test_the_reverse_cases() -> None:
    old = card(lambda d: CASES["protocol version added"][0](d))
    assert [c.rule for c in diff_cards(old, card()).changes] == [
        "interface.removed",
        "protocolVersion.removed",
    ]
    stricter = card(CASES["skill security stricter"][0])
    (change,) = diff_cards(stricter, card()).changes
    assert change.rule == "skill.security.looser"
    assert change.impact is Impact.COMPATIBLE
    (change,) = diff_cards(card(CASES["extension required"][0]), card()).changes
    assert (change.rule, change.old, change.new) == ("extension.optional", True, False)


def test_modes_moved_between_skill_and_defaults_are_no_change() -> None:
    # "book" uses the defaults; writing them out on the skill means the same thing.
    explicit = card(lambda d: _skill(d, "book").update(inputModes=["text/plain"]))
    assert [c.rule for c in diff_cards(card(), explicit).changes] == ["card.other"]


def test_default_modes_change_is_reported_once() -> None:
    # "book" inherits the defaults: the card-level change covers it.
    diff = diff_cards(card(), card(lambda d: d.update(defaultInputModes=["text/csv"])))
    assert [(c.rule, c.path, c.old, c.new) for c in diff.changes] == [
        ("defaultInputModes.removed", "defaultInputModes", "text/plain", None),
        ("defaultInputModes.added", "defaultInputModes", None, "text/csv"),
    ]


def test_disjoint_requirements_are_stricter() -> None:
    edited = card(
        lambda d: d.update(securityRequirements=[{"schemes": {"key": {"list": []}}}])
    )
    (change,) = diff_cards(card(), edited).changes
    assert change.rule == "security.stricter"
    assert change.old == [{"schemes": {"bearer": {"list": ["read"]}}}]
    # A card that asked for nothing now asks for something.
    (change,) = diff_cards(
        card(lambda d: d.update(securityRequirements=[])), card()
    ).changes
    assert change.rule == "security.stricter"


def test_same_requirements_in_another_order_are_no_change() -> None:
    two = [
        {"schemes": {"bearer": {"list": ["b", "a"]}}},
        {"schemes": {"key": {"list": []}}},
    ]
    one = card(lambda d: d.update(securityRequirements=two))
    other = card(lambda d: d.update(securityRequirements=two[::-1]))
    diff = diff_cards(one, other)
    assert [c.rule for c in diff.changes] == ["card.other"]


def test_identical_and_resigned() -> None:
    diff = diff_cards(card(), card())
    assert diff.identical
    assert diff.changes == ()
    assert diff.impact is None
    assert not diff.version_unchanged
    assert not diff.unannounced_break
    signed = replace(
        card(), signatures=(AgentCardSignature(protected="e30", signature="c2ln"),)
    )
    assert diff_cards(card(), signed).identical


def test_version_flags() -> None:
    def bump(version: str, *edits: Edit) -> Callable[[dict[str, Any]], None]:
        def edit(d: dict[str, Any]) -> None:
            d["version"] = version
            for other in edits:
                other(d)

        return edit

    remove_skill = CASES["skill removed"][0]
    same = diff_cards(card(), card(remove_skill))
    assert same.version_unchanged
    assert not same.unannounced_break  # already flagged as unchanged
    assert diff_cards(card(), card(bump("1.3.0", remove_skill))).unannounced_break
    assert not diff_cards(card(), card(bump("2.0.0", remove_skill))).unannounced_break
    assert not diff_cards(card(), card(bump("v2", remove_skill))).unannounced_break
    # Non-semver versions: nothing to say.
    assert not diff_cards(card(), card(bump("2024-06", remove_skill))).unannounced_break
    # Below 1.0 a minor bump announces a break; a patch bump does not.
    zero = card(lambda d: d.update(version="0.3.1"))
    assert not diff_cards(zero, card(bump("0.4.0", remove_skill))).unannounced_break
    assert diff_cards(zero, card(bump("0.3.2", remove_skill))).unannounced_break
    # Compatible changes need no major bump.
    assert not diff_cards(
        card(), card(bump("1.2.1", CASES["skill added"][0]))
    ).unannounced_break
    # A cosmetic change without a bump is still drift.
    assert diff_cards(card(), card(CASES["name"][0])).version_unchanged


def test_to_json() -> None:
    old, new = card(), card(lambda d: d["skills"].pop())
    document = diff_cards(old, new).to_json()
    assert document == {
        "identical": False,
        "impact": "breaking",
        "oldPin": card_pin(old),
        "newPin": card_pin(new),
        "oldVersion": "1.2.0",
        "newVersion": "1.2.0",
        "versionUnchanged": True,
        "unannouncedBreak": False,
        "changes": [
            {
                "rule": "skill.removed",
                "impact": "breaking",
                "path": "skills[csv]",
                "meaning": "a skill is gone",
                "old": "csv",
            }
        ],
    }
    assert Change("capability.off", "p", True, False).to_json()["new"] is False


# --- properties ----------------------------------------------------------------------

cards = strategy_for(AgentCard)


@given(cards)
def test_a_card_does_not_differ_from_itself(value: AgentCard) -> None:
    diff = diff_cards(value, value)
    assert diff.identical
    assert diff.changes == ()


def _moves(changes: tuple[Change, ...], kind: str) -> set[tuple[str, str, Any]]:
    """(rule family, path, value) of each ``*.added`` or ``*.removed`` change."""
    found = set()
    for change in changes:
        base, _, rest = change.rule.partition(f".{kind}")
        if rest in ("", ".required") and base != change.rule:
            value = change.new if kind == "added" else change.old
            found.add((base, change.path, repr(value)))
    return found


@given(cards, cards)
def test_added_and_removed_are_antisymmetric(old: AgentCard, new: AgentCard) -> None:
    forward, backward = diff_cards(old, new), diff_cards(new, old)
    assert _moves(forward.changes, "added") == _moves(backward.changes, "removed")
    assert _moves(forward.changes, "removed") == _moves(backward.changes, "added")
    assert forward.identical == backward.identical == (card_pin(old) == card_pin(new))
    # A changed card always says what changed.
    assert bool(forward.changes) == (not forward.identical)


def test_the_docs_table_lists_every_rule() -> None:
    from pathlib import Path

    page = Path(__file__).parents[2] / "docs" / "how-to" / "card-drift.md"
    text = page.read_text(encoding="utf-8")
    for name, rule in RULES.items():
        assert f"| `{name}` | {rule.impact.value} | {rule.meaning} |" in text, name


def _guarantees(p99_ms: float, observed: dict[str, Any] | None) -> Edit:
    """Declare the guarantees extension (book: p99 ``p99_ms``), with ``observed``."""
    from accord.protocol.handshake import GUARANTEES_EXTENSION

    def edit(data: dict[str, Any]) -> None:
        book: dict[str, Any] = {"latencyMs": {"p50": 100, "p99": p99_ms}}
        if observed is not None:
            book["observed"] = observed
        data["capabilities"]["extensions"].append(
            {"uri": GUARANTEES_EXTENSION, "params": {"skills": {"book": book}}}
        )

    return edit


def _seen(count: int, p50: float, p99: float) -> dict[str, Any]:
    return {"count": count, "latencyMs": {"p50": p50, "p99": p99}}


def test_measured_figures_are_neither_pinned_nor_a_change() -> None:
    """An agent publishing fresh latency figures keeps its pin and shows no change;
    a changed promise does both."""
    quiet = card(_guarantees(500, None))
    busy = card(_guarantees(500, _seen(40, 80.0, 450.0)))
    busier = card(_guarantees(500, _seen(90, 95.0, 700.0)))
    assert card_pin(quiet) == card_pin(busy) == card_pin(busier)
    assert diff_cards(busy, busier).changes == ()
    promise = card(_guarantees(900, _seen(90, 95.0, 700.0)))
    assert card_pin(promise) != card_pin(busier)
    assert [c.rule for c in diff_cards(busier, promise).changes] == ["extension.params"]
