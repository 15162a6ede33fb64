"""What a quota says: :class:`RateLimit`, :class:`QuotaRule`, and which rules apply to a call.

A rule limits a *dimension*: its ``per`` (each caller, or each tenant as a whole) and
its ``skill`` (none: every call). For each dimension, the rule that applies to a call
is the most specific one matching it, by this table (first match wins):

=====================  ===================================================
rule names             applies to
=====================  ===================================================
tenant and principal   that principal in that tenant
principal              that principal in every tenant
tenant                 every caller (or the tenant as a whole) of that tenant
neither                everyone: the default
=====================  ===================================================

So a default of ``5/s`` per caller, a tenant ``acme`` allowed ``20/s`` per caller and
``200/s`` for the tenant as a whole, and a partner given ``50/s`` are four rules in
three dimensions, and a call is checked against every dimension that has a rule for
it, all or nothing (a call refused by one bucket spends no token of another).
Skill rules apply only to messages whose skill is known
(:func:`~accord.server.quotas.skill_of`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Per", "QuotaRule", "RateLimit", "applicable", "rules_from_mapping"]

#: Who shares a bucket: each caller (tenant, principal) its own, or a whole tenant one.
Per = Literal["principal", "tenant"]

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_UNITS |= {"h": 3600.0, "hour": 3600.0}
_SPEC = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*(?::\s*(\d+))?\s*\Z")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A sustained rate and the burst a caller may spend at once.

    Attributes:
        per_second: tokens added per second.
        burst: the bucket's size: how many calls may come at once after a quiet
            spell (default: one second's worth, at least 1).

    Raises:
        ValueError: a rate that is not positive, or a burst below 1.
    """

    per_second: float
    burst: int = 0

    def __post_init__(self) -> None:
        if not self.per_second > 0 or math.isinf(self.per_second):
            raise ValueError(
                f"a rate limit needs a positive rate (got {self.per_second})"
            )
        if self.burst == 0:
            object.__setattr__(self, "burst", max(1, math.ceil(self.per_second)))
        if self.burst < 1:
            raise ValueError(f"a rate limit's burst is at least 1 (got {self.burst})")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"5/s"``, ``"300/min"``, ``"1000/h"``, with an optional burst: ``"5/s:20"``.

        Raises:
            ValueError: not of that form; the message shows the form.
        """
        match = _SPEC.match(text.lower())
        unit = _UNITS.get(match[2]) if match else None
        if match is None or unit is None:
            raise ValueError(
                f"{text!r} is not a rate: write N/s, N/min or N/h, optionally with a "
                "burst, e.g. 5/s or 300/min:20"
            )
        if match[3] and int(match[3]) < 1:
            raise ValueError(f"{text!r}: a burst is at least 1")
        return cls(float(match[1]) / unit, int(match[3] or 0))

    def describe(self) -> str:
        """``"5 requests a second (bursts of 10)"``: for error messages."""
        if self.per_second >= 1:
            return f"{self.per_second:g} requests a second (bursts of {self.burst})"
        return f"{self.per_second * 60:g} requests a minute (bursts of {self.burst})"


@dataclass(frozen=True, slots=True)
class QuotaRule:
    """One limit: a request rate, a number of running tasks, or both.

    Attributes:
        rate: requests per second (a token bucket), or None.
        running: tasks running at once (executions of the agent started by messages;
            across instances with a shared backend), or None.
        per: ``"principal"``: each caller (tenant and principal id; anonymous callers
            share one per tenant) has its own allowance; ``"tenant"``: the callers of
            a tenant share one.
        tenant: only calls to this tenant (None: every tenant; ``""`` is the default
            tenant).
        principal: only this principal's calls (implies ``per="principal"``).
        skill: only messages asking for this skill (rates only: a running task is not
            tied to one skill).

    Raises:
        ValueError: no limit, a running limit below 1, a principal rule per tenant,
            a running limit per skill, or an unknown ``per``.
    """

    rate: RateLimit | None = None
    running: int | None = None
    per: Per = "principal"
    tenant: str | None = None
    principal: str | None = None
    skill: str | None = None

    def __post_init__(self) -> None:
        if self.rate is None and self.running is None:
            raise ValueError("a quota rule needs a rate, a running limit, or both")
        if self.per not in ("principal", "tenant"):
            raise ValueError(f"per is 'principal' or 'tenant' (got {self.per!r})")
        if self.running is not None and (
            isinstance(self.running, bool)
            or not isinstance(self.running, int)
            or self.running < 1
        ):
            raise ValueError(f"running is a whole number >= 1 (got {self.running!r})")
        if self.principal is not None and self.per == "tenant":
            raise ValueError(
                "a rule naming a principal limits that principal: per='principal'"
            )
        if self.skill is not None and self.running is not None:
            raise ValueError(
                "running limits are per caller or tenant, not per skill: a running "
                "task is not tied to one skill"
            )

    @property
    def dimension(self) -> tuple[Per, str | None]:
        """What the rule limits: (``per``, ``skill``)."""
        return (self.per, self.skill)

    @property
    def specificity(self) -> int:
        """Rank in the module's table: 3 (tenant and principal) down to 0."""
        return (2 if self.principal is not None else 0) + (
            1 if self.tenant is not None else 0
        )

    def matches(self, tenant: str, principal: str) -> bool:
        """Whether the rule applies to ``principal`` calling ``tenant``."""
        return (self.tenant is None or self.tenant == tenant) and (
            self.principal is None or self.principal == principal
        )

    @property
    def public(self) -> bool:
        """Whether the card may show it: rules naming a tenant or a principal would
        name the agent's customers, so only the defaults are declared."""
        return self.tenant is None and self.principal is None


def applicable(
    rules: Sequence[QuotaRule], tenant: str, principal: str, skill: str | None
) -> tuple[QuotaRule, ...]:
    """The rule of each dimension that applies to the call (the module's table).

    Dimensions with a skill count only when ``skill`` is that skill.
    """
    chosen: dict[tuple[Per, str | None], QuotaRule] = {}
    for rule in rules:
        if rule.skill is not None and rule.skill != skill:
            continue
        if not rule.matches(tenant, principal):
            continue
        held = chosen.get(rule.dimension)
        if held is None or rule.specificity > held.specificity:
            chosen[rule.dimension] = rule
    return tuple(chosen.values())


_RULE_KEYS = frozenset({"rate", "running", "per", "tenant", "principal", "skill"})


def rules_from_mapping(data: Mapping[str, Any], *, where: str) -> tuple[QuotaRule, ...]:
    """The rules of a quota file's ``[[limit]]`` tables (``where`` names the file).

    Each table has ``rate`` (``"5/s:10"``) and/or ``running`` (a whole number), and
    optionally ``per``, ``tenant``, ``principal`` and ``skill``.

    Raises:
        ValueError: an unknown key, a wrong type, or a rule that does not hold; the
            message names the file and the table.
    """
    tables = data.get("limit", [])
    if not isinstance(tables, list):
        raise ValueError(f"{where}: 'limit' is a list of tables: write [[limit]]")
    rules = []
    for number, table in enumerate(tables, 1):
        at = f"{where}: limit #{number}"
        if not isinstance(table, Mapping):
            raise ValueError(f"{at}: write it as a [[limit]] table")
        unknown = sorted(set(table) - _RULE_KEYS)
        if unknown:
            raise ValueError(
                f"{at}: unknown key {unknown[0]!r} (known: "
                f"{', '.join(sorted(_RULE_KEYS))})"
            )
        for key in ("rate", "per", "tenant", "principal", "skill"):
            if key in table and not isinstance(table[key], str):
                raise ValueError(f"{at}: {key} is a string")
        try:
            rate = table.get("rate")
            rules.append(
                QuotaRule(
                    rate=None if rate is None else RateLimit.parse(rate),
                    running=table.get("running"),
                    per=table.get("per", "principal"),
                    tenant=table.get("tenant"),
                    principal=table.get("principal"),
                    skill=table.get("skill"),
                )
            )
        except ValueError as exc:
            raise ValueError(f"{at}: {exc}") from None
    return tuple(rules)
