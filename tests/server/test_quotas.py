"""Quotas (spec §13 "Rate Limiting"): which rules apply, buckets spent all or nothing,
running-task limits that concurrent requests cannot overshoot, the card's declaration,
the quota file, and what a backend failure does."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from accord.client import Client
from accord.errors import RateLimitedError, UnavailableError
from accord.server import (
    A2AApp,
    Agent,
    Interceptor,
    QuotaRule,
    Quotas,
    RateLimit,
    TaskContext,
)
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.server.quotas import (
    QUOTA_EXTENSION,
    Bucket,
    MemoryBuckets,
    QuotaBackendError,
    Refusal,
    applicable,
    backend_for,
)
from accord.types import (
    AgentInterface,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    Task,
)

from .auth.helpers import api_key_scheme, requirement
from .conftest import Wire, WireError, serve, user_message
from .scripted import behave

SLOW = RateLimit(per_second=0.001, burst=2)  # two calls, then a wait of ~1000 s
NOW = SendMessageConfiguration(return_immediately=True)


def rule(**kwargs: Any) -> QuotaRule:
    kwargs.setdefault("rate", SLOW)
    return QuotaRule(**kwargs)


# -- which rules apply --------------------------------------------------------------


def test_the_most_specific_rule_of_each_dimension_applies() -> None:
    default = rule()
    acme = rule(tenant="acme")
    partner = rule(principal="p42")
    partner_at_acme = rule(tenant="acme", principal="p42")
    tenant_wide = rule(per="tenant")
    skill = rule(skill="schedule_callback")
    rules = [partner_at_acme, default, tenant_wide, acme, partner, skill]
    assert applicable(rules, "", "anyone", None) == (default, tenant_wide)
    assert applicable(rules, "acme", "anyone", None) == (acme, tenant_wide)
    assert applicable(rules, "other", "p42", None) == (partner, tenant_wide)
    assert applicable(rules, "acme", "p42", None) == (partner_at_acme, tenant_wide)
    # A skill rule is a dimension of its own, counted only for that skill.
    assert applicable(rules, "", "x", "schedule_callback") == (
        default,
        tenant_wide,
        skill,
    )
    assert applicable(rules, "", "x", "other_skill") == (default, tenant_wide)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({}, "needs a rate, a running limit"),
        ({"running": 0}, "running is a whole number"),
        ({"running": True}, "running is a whole number"),
        ({"rate": SLOW, "per": "everyone"}, "per is 'principal' or 'tenant'"),
        ({"rate": SLOW, "per": "tenant", "principal": "p"}, "per='principal'"),
        ({"running": 2, "skill": "s"}, "not per skill"),
    ],
)
def test_a_rule_that_cannot_hold_says_why(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        QuotaRule(**kwargs)


# -- the buckets ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_buckets_are_spent_all_or_nothing_and_the_slowest_is_named() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    roomy = Bucket(("", "principal", "alice", ""), RateLimit(10.0, burst=10))
    tight = Bucket(("", "tenant", ""), RateLimit(1.0, burst=1))
    assert buckets.take_now([roomy, tight]) is None
    refusal = buckets.take_now([roomy, tight])
    assert refusal == Refusal(wait=pytest.approx(1.0), index=1)  # type: ignore[arg-type]
    # The refused call spent nothing: alice still has 9 of her own 10 tokens.
    for _ in range(9):
        assert buckets.take_now([roomy]) is None
    assert buckets.take_now([roomy]) is not None
    clock.now += 1.0
    assert buckets.take_now([tight]) is None
    with pytest.raises(ValueError, match="max_buckets"):
        MemoryBuckets(max_buckets=0)


def test_a_backend_is_memory_or_redis() -> None:
    assert isinstance(backend_for("memory"), MemoryBuckets)
    assert repr(backend_for("redis://127.0.0.1:6379/2")) == (
        "RedisBuckets('redis://127.0.0.1:6379/2')"
    )
    with pytest.raises(ValueError, match=r"'memory' .* or a redis:// URL"):
        backend_for("memcached://x")


# -- over the wire --------------------------------------------------------------------

KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdefgh"}


def keyed_agent(function: Any = behave) -> tuple[Agent, dict[str, Any]]:
    ring = ApiKeyRing()
    for who, key in KEYS.items():
        ring.add(key, principal=who)
    agent = Agent(
        function,
        name="Limited",
        description="x",
        security_schemes={"key": api_key_scheme("header", "X-API-Key")},
        security_requirements=(requirement(key=[]),),
    )
    return agent, {"auth": {"key": ApiKeyVerifier(ring)}}


@asynccontextmanager
async def clients(
    app: A2AApp, binding: str = "JSONRPC"
) -> AsyncIterator[dict[str, Client]]:
    """A client per caller of KEYS, on ``app`` in this process."""
    face = AgentInterface(
        url="http://agent", protocol_binding=binding, protocol_version="1.0"
    )
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as h:
            made = {
                who: Client.from_interface(face, http=h, headers={"X-API-Key": key})
                for who, key in KEYS.items()
            }
            for client in made.values():
                await client.__aenter__()
            try:
                yield made
            finally:
                for client in made.values():
                    await client.__aexit__(None, None, None)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.anyio
async def test_a_tenant_wide_limit_is_shared_by_its_callers(binding: str) -> None:
    agent, options = keyed_agent()
    quotas = Quotas([rule(per="tenant")])
    async with clients(A2AApp(agent, interceptors=[quotas], **options), binding) as c:
        await c["alice"].list_tasks()
        await c["bob"].list_tasks()
        with pytest.raises(RateLimitedError) as refused:
            await c["alice"].list_tasks()
    assert "this tenant's callers together may make" in str(refused.value)
    assert refused.value.retry_after > 900


def skill_message(skill: str) -> dict[str, str]:
    """A message naming its skill the way the default skill_of reads it."""
    return {"skill": skill}


@pytest.mark.anyio
async def test_a_skill_limit_counts_only_that_skills_messages() -> None:
    agent, options = keyed_agent()
    quotas = Quotas(
        [QuotaRule(rate=RateLimit(100.0)), rule(skill="escalate", rate=SLOW)]
    )
    async with clients(A2AApp(agent, interceptors=[quotas], **options)) as c:
        alice = c["alice"]
        for _ in range(2):
            await alice.send_message(skill_message("escalate"))
        with pytest.raises(RateLimitedError) as refused:
            await alice.send_message(skill_message("escalate"))
        # Other skills, other operations and other callers are not held back.
        await alice.send_message(skill_message("summary"))
        await alice.list_tasks()
        await c["bob"].send_message(skill_message("escalate"))
    assert "for the skill 'escalate'" in str(refused.value)
    assert "this caller may make" in str(refused.value)


class Gated:
    """An agent whose tasks work until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = anyio.Event()
        self.started = 0

    async def __call__(self, ctx: TaskContext) -> None:
        if ctx.text == "reply":
            await ctx.reply("no task")
            return
        if ctx.text == "boom":
            raise ValueError("kaboom")
        self.started += 1
        await ctx.working("at the gate")
        await self.gate.wait()
        await ctx.complete()


def text(words: str) -> str:
    return words


@pytest.mark.anyio
async def test_running_limits_refuse_beyond_the_running_tasks_and_free_up() -> None:
    gated = Gated()
    agent, options = keyed_agent(gated)
    quotas = Quotas([QuotaRule(running=2), QuotaRule(running=3, per="tenant")])
    app = A2AApp(agent, interceptors=[quotas], **options)
    async with clients(app) as c:
        alice, bob = c["alice"], c["bob"]
        for _ in range(2):
            task = await alice.send_message(text("work"), configuration=NOW)
        with pytest.raises(RateLimitedError) as mine:
            await alice.send_message(text("work"), configuration=NOW)
        assert "this caller may have 2 running at once" in str(mine.value)
        assert mine.value.retry_after == 1.0
        await bob.send_message(text("work"), configuration=NOW)
        with pytest.raises(RateLimitedError) as theirs:
            await bob.send_message(text("work"), configuration=NOW)
        assert "this tenant's callers may have 3 running" in str(theirs.value)
        # Reading is not running: other operations are not held back.
        assert isinstance(task, Task)
        await alice.get_task(task.id)
        assert app.engine.running_tasks.of_tenant("") == 3
        gated.gate.set()
        with anyio.fail_after(10):
            # A deadline poll: the tasks end in the runtime's own tasks.
            while app.engine.running_tasks.of_tenant(""):  # noqa: ASYNC110
                await anyio.sleep(0.01)
        await alice.send_message(text("reply"))
    assert gated.started == 3


@pytest.mark.anyio
async def test_messages_sent_together_cannot_overshoot_a_running_limit() -> None:
    gated = Gated()
    agent, options = keyed_agent(gated)
    app = A2AApp(agent, interceptors=[Quotas([QuotaRule(running=2)])], **options)
    outcomes: list[str] = []
    async with clients(app) as c:

        async def one() -> None:
            try:
                await c["alice"].send_message(text("work"), configuration=NOW)
                outcomes.append("ran")
            except RateLimitedError:
                outcomes.append("refused")

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
        assert sorted(outcomes) == ["ran"] * 2 + ["refused"] * 6
        gated.gate.set()
    assert gated.started == 2


@pytest.mark.anyio
async def test_slots_are_given_back_whatever_the_message_did() -> None:
    gated = Gated()
    gated.gate.set()
    agent, options = keyed_agent(gated)
    app = A2AApp(agent, interceptors=[Quotas([QuotaRule(running=1)])], **options)
    async with clients(app, "HTTP+JSON") as c:
        alice = c["alice"]
        counts = app.engine.running_tasks
        await alice.send_message(text("work"))  # blocking: run to its end here
        await alice.send_message(text("reply"))  # a message, no task
        await alice.send_message(text("boom"))  # the agent failed
        with pytest.raises(Exception, match="not found"):
            await alice.send_message(
                Message(
                    message_id="m-unknown",
                    role=Role.USER,
                    parts=(Part(text="x"),),
                    task_id="no-such-task",
                )
            )
        async for _ in alice.send_streaming_message(text("work")):
            pass
        assert (counts.of_caller("", "alice"), counts.of_tenant("")) == (0, 0)
        await alice.send_message(text("work"))  # so the one slot is free


class Breaks(Interceptor):
    """Refuses every call after the quota's before() (a later interceptor)."""

    async def before(self, call: Any) -> None:
        raise UnavailableError("no")


@pytest.mark.anyio
async def test_a_reservation_is_given_back_when_a_later_interceptor_refuses() -> None:
    agent, options = keyed_agent(Gated())
    app = A2AApp(
        agent, interceptors=[Quotas([QuotaRule(running=1)]), Breaks()], **options
    )
    async with clients(app) as c:
        for _ in range(2):
            with pytest.raises(UnavailableError):
                await c["alice"].send_message(text("work"))
        assert app.engine.running_tasks.of_tenant("") == 0


def test_the_card_declares_the_default_limits_only() -> None:
    quotas = Quotas(
        [
            QuotaRule(rate=RateLimit(5.0, burst=10), running=4),
            QuotaRule(rate=RateLimit(100.0), per="tenant"),
            QuotaRule(rate=RateLimit(1 / 60), skill="escalate"),
            QuotaRule(rate=RateLimit(50.0), tenant="acme"),  # names a customer
            QuotaRule(rate=RateLimit(50.0), principal="p42"),  # names a partner
        ]
    )
    app = A2AApp(Agent(behave, name="x", description="x"), interceptors=[quotas])
    with serve(app) as url:
        card = httpx.get(url + "/.well-known/agent-card.json").json()
    (declared,) = [
        e for e in card["capabilities"]["extensions"] if e["uri"] == QUOTA_EXTENSION
    ]
    assert declared["params"]["limits"] == [
        {"per": "principal", "requestsPerSecond": 5.0, "burst": 10, "runningTasks": 4},
        {"per": "tenant", "requestsPerSecond": 100.0, "burst": 100},
        {
            "per": "principal",
            "skill": "escalate",
            "requestsPerSecond": pytest.approx(1 / 60),
            "burst": 1,
        },
    ]
    assert "acme" not in str(card)
    assert "p42" not in str(card)


def test_a_card_follows_the_interceptors() -> None:
    app = A2AApp(Agent(behave, name="x", description="x"))
    with serve(app) as url:
        before = httpx.get(url + "/.well-known/agent-card.json").json()
        app.engine.interceptors = (Quotas([QuotaRule(running=1, tenant="t")]),)
        private = httpx.get(url + "/.well-known/agent-card.json").json()
        app.engine.interceptors = (Quotas([QuotaRule(running=1)]),)
        after = httpx.get(url + "/.well-known/agent-card.json").json()
    assert before["capabilities"].get("extensions", []) == []
    assert private["capabilities"].get("extensions", []) == []
    assert [e["uri"] for e in after["capabilities"]["extensions"]] == [QUOTA_EXTENSION]


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_a_message_over_a_running_limit_is_429_on_the_wire(
    binding: str, http: httpx.Client
) -> None:
    app = A2AApp(
        Agent(behave, name="x", description="x"),
        interceptors=[Quotas([QuotaRule(running=1)])],
    )
    with serve(app) as url:
        wire = Wire(url, binding, http)
        task = wire.call(
            "SendMessage",
            {
                "message": user_message("wait"),
                "configuration": {"returnImmediately": True},
            },
        )["task"]
        response = http.send(
            wire.request("SendMessage", {"message": user_message("echo x")})
        )
        wire.call("CancelTask", {"id": task["id"]})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    error = wire.error(response)
    assert error.reason == "RATE_LIMITED"
    assert "Too many running tasks" in error.message


# -- when the backend fails ------------------------------------------------------------


class Down:
    """A backend that cannot be asked until it is told it is up."""

    def __init__(self) -> None:
        self.up = False
        self.held: set[str] = set()

    async def __aenter__(self) -> Down:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def take(self, buckets: Any) -> Refusal | None:
        if not self.up:
            raise QuotaBackendError("connection refused")
        return None

    async def hold(self, limits: Any, holder: str) -> int | None:
        if not self.up:
            raise QuotaBackendError("connection refused")
        self.held.add(holder)
        return None

    def let_go(self, limits: Any, holder: str) -> None:
        self.held.discard(holder)

    def __repr__(self) -> str:
        return "Down()"


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_a_backend_failure_admits_or_refuses_as_configured_and_is_logged(
    on_error: Any, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    down = Down()
    quotas = Quotas([rule()], backend=down, on_backend_error=on_error)
    app = A2AApp(Agent(behave, name="x", description="x"), interceptors=[quotas])
    caplog.set_level(logging.WARNING, "accord.server.quotas")
    with serve(app) as url:
        wire = Wire(url, "HTTP+JSON", http)
        statuses = [
            http.send(wire.request("ListTasks", {})).status_code for _ in range(3)
        ]
        down.up = True
        wire.call("ListTasks", {})
    assert statuses == ([200] * 3 if on_error == "open" else [503] * 3)
    logged = [r.getMessage() for r in caplog.records]
    says = "admitted without limits" if on_error == "open" else "refused with 503"
    # Once (not once per call), and then the recovery.
    assert [m for m in logged if "cannot be asked" in m] == [
        f"quota backend Down() cannot be asked (connection refused): calls are {says} "
        "until it answers"
    ]
    assert any("answers again" in m for m in logged)


# -- the quota file ------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "limits.toml"
    path.write_text(text)
    return path


def test_a_quota_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
on_backend_error = "closed"

[[limit]]
rate = "5/s:10"
running = 4

[[limit]]
per = "tenant"
tenant = "acme"
rate = "300/min"

[[limit]]
skill = "escalate"
rate = "1/min"
""",
    )
    quotas = Quotas.from_file(path)
    assert quotas.rules == (
        QuotaRule(rate=RateLimit(5.0, burst=10), running=4),
        QuotaRule(rate=RateLimit(5.0), per="tenant", tenant="acme"),
        QuotaRule(rate=RateLimit(1 / 60), skill="escalate"),
    )
    assert quotas.on_backend_error == "closed"
    assert isinstance(quotas.backend, MemoryBuckets)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[limit]\n", "not TOML"),
        ("limits = 3\n", "unknown key 'limits'"),
        ("backend = 'memory'\n", "no \\[\\[limit\\]\\] table"),
        ("limit = 3\n", "write \\[\\[limit\\]\\]"),
        ("[[limit]]\nrate = 5\n", "limit #1: rate is a string"),
        ("[[limit]]\nrate = '5/s'\n[[limit]]\nrat = '1/s'\n", "limit #2: unknown key"),
        ("[[limit]]\nrate = 'fast'\n", "limit #1: 'fast' is not a rate"),
        ("[[limit]]\nrunning = 0\n", "limit #1: running is a whole number"),
        ("backend = 3\n[[limit]]\nrunning = 1\n", "backend is a string"),
        ("backend = 'x'\n[[limit]]\nrunning = 1\n", "not a quota backend"),
        ("on_backend_error = 'no'\n[[limit]]\nrunning = 1\n", "'open' or 'closed'"),
    ],
)
def test_a_wrong_quota_file_says_where(tmp_path: Path, text: str, says: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=says) as wrong:
        Quotas.from_file(path)
    assert str(path) in str(wrong.value)


def test_quotas_need_rules_and_a_known_failure_mode() -> None:
    with pytest.raises(ValueError, match="at least one QuotaRule"):
        Quotas([])
    with pytest.raises(ValueError, match="'open' or 'closed'"):
        Quotas([rule()], on_backend_error="maybe")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_one_quotas_serves_one_engine() -> None:
    quotas = Quotas([rule()])
    first = A2AApp(Agent(behave, name="x", description="x"), interceptors=[quotas])
    second = A2AApp(Agent(behave, name="y", description="y"), interceptors=[quotas])
    async with first.running():
        with pytest.raises(BaseExceptionGroup) as refused:
            async with second.running():
                pass
    assert refused.group_contains(RuntimeError, match="already serve an engine")


def serve_with(args: list[str]) -> Callable[[A2AApp], None]:
    from accord.cli.commands._serve_limits import configure_rate_limit
    from accord.cli.main import build_parser

    parsed = build_parser().parse_args(["serve", *args])
    return lambda app: configure_rate_limit(app, parsed)


def test_accord_serve_reads_the_quota_file_first_in_line(tmp_path: Path) -> None:
    from accord.cli._errors import UsageError

    path = write(tmp_path, "[[limit]]\nrunning = 3\n")
    app = A2AApp(Agent(behave, name="x", description="x"), interceptors=[Breaks()])
    serve_with(["--limits", str(path)])(app)
    first, second = app.engine.interceptors
    assert isinstance(first, Quotas)
    assert first.rules == (QuotaRule(running=3),)
    assert isinstance(second, Breaks)
    with pytest.raises(UsageError, match="not both"):
        serve_with(["--limits", str(path), "--rate-limit", "5/s"])(app)
    with pytest.raises(UsageError, match="cannot read the quota file"):
        serve_with(["--limits", str(tmp_path / "missing.toml")])(app)
    with pytest.raises(UsageError, match="limit #1"):
        serve_with(["--limits", str(write(tmp_path, "[[limit]]\nrate='x'\n"))])(app)


def test_the_wire_error_is_the_same_for_a_rate_as_before(http: httpx.Client) -> None:
    app = A2AApp(
        Agent(behave, name="x", description="x"), interceptors=[Quotas([rule()])]
    )
    with serve(app) as url:
        wire = Wire(url, "JSONRPC", http)
        wire.call("ListTasks", {})
        wire.call("ListTasks", {})
        with pytest.raises(WireError) as refused:
            wire.call("ListTasks", {})
    assert refused.value.reason == "RATE_LIMITED"
    assert refused.value.code == -31429


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_running_limits_follow_the_backend_failure_mode_too(
    on_error: Any, http: httpx.Client
) -> None:
    down = Down()
    quotas = Quotas([QuotaRule(running=1)], backend=down, on_backend_error=on_error)
    app = A2AApp(Agent(behave, name="x", description="x"), interceptors=[quotas])
    with serve(app) as url:
        wire = Wire(url, "HTTP+JSON", http)
        send = {"message": user_message("echo x")}
        status = http.send(wire.request("SendMessage", send)).status_code
        down.up = True
        wire.call("SendMessage", {"message": user_message("echo y")})
    assert status == (200 if on_error == "open" else 503)
    assert down.held == set()  # the place held once it was up was let go
