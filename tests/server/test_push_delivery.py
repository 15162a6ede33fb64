"""Push delivery (spec §4.3.3) to a real webhook receiver on loopback (allowed through
the egress allow-list): every event in order with its credentials, retries that keep
the notification id, Retry-After, redirects not followed, dead-lettering, and nothing
after a config is deleted."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from accord.egress import EgressPolicy
from accord.errors import SignatureError, StoreUnavailableError, TokenError
from accord.protocol.push import SIGNED_PUSH_EXTENSION
from accord.security import JWK, JWKSet
from accord.security.push import verify_notification
from accord.server import A2AApp, Agent
from accord.server.push import PushSettings, generate_key
from accord.server.push.delivery import backoff, retry_after_seconds
from accord.stores import MemoryTaskStore, SQLiteTaskStore
from accord.stores.base import PushConfigRecord, PushDelivery, Scope

from .conftest import Wire, serve, user_message
from .scripted import GATE, behave
from .webhook import (
    DEADLINE,
    Answer,
    Notification,
    Receiver,
    hang_up,
    raw_server,
    receiver,
    trickle,
)

T = TypeVar("T")

SECRET = "hook-secret-0123456789"


def settings(**overrides: Any) -> PushSettings:
    values: dict[str, Any] = {
        "keys": [generate_key()],
        "egress": EgressPolicy(allow=("127.0.0.1",)),
        "retry_base": 0.01,
        "retry_max": 0.05,
        "poll_interval": 0.05,
        "give_up_after": 4,
    }
    values.update(overrides)
    return PushSettings(**values)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as rec:
        yield rec


@pytest.fixture
def app(tmp_path: Path) -> A2AApp:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    return A2AApp(agent, store=SQLiteTaskStore(tmp_path / "tasks.db"), push=settings())


@pytest.fixture
def wire(app: A2AApp, http: httpx.Client) -> Iterator[Wire]:
    with serve(app) as url:
        yield Wire(url, "HTTP+JSON", http)


def send(wire: Wire, text: str, config: dict[str, Any], **options: Any) -> Any:
    return wire.call(
        "SendMessage",
        {
            "message": user_message(text),
            "configuration": {"taskPushNotificationConfig": config, **options},
        },
    )["task"]


def finished(task_id: str) -> Any:
    def done(got: list[Notification]) -> bool:
        return any(
            n.status == 200
            and n.body.get("statusUpdate", {}).get("status", {}).get("state")
            == "TASK_STATE_COMPLETED"
            and n.body["statusUpdate"]["taskId"] == task_id
            for n in got
        )

    return done


def test_every_event_arrives_in_order_with_its_credentials(
    wire: Wire, hook: Receiver
) -> None:
    task = send(
        wire,
        "chunks 3",
        {
            "url": hook.url,
            "id": "c1",
            "token": "tok-1",
            "authentication": {"scheme": "Bearer", "credentials": SECRET},
        },
    )
    got = hook.wait_for(finished(task["id"]), "the completed status")
    assert [n.seq for n in got] == list(range(1, len(got) + 1))
    assert {n.id for n in got} == {f"{task['id']}/c1/{n.seq}" for n in got}
    first = got[0]
    assert first.path == "/hook"
    assert first.headers["authorization"] == f"Bearer {SECRET}"
    assert first.headers["x-a2a-notification-token"] == "tok-1"
    assert first.headers["content-type"] == "application/a2a+json"
    # The body is the StreamResponse, as a stream would carry it (spec §4.3.3).
    assert first.body["task"]["id"] == task["id"]
    kinds = [next(iter(n.body)) for n in got]
    assert kinds[0] == "task"
    assert kinds.count("artifactUpdate") == 3
    assert kinds[-1] == "statusUpdate"


@pytest.mark.parametrize(
    "failure",
    [
        Answer(500),
        Answer(503, (("retry-after", "0"),)),
        Answer(429, (("retry-after", "0"),)),
        Answer(302, (("location", "http://10.0.0.1/steal"),)),
    ],
)
def test_a_failed_notification_is_sent_again_with_the_same_id(
    wire: Wire, hook: Receiver, failure: Answer
) -> None:
    hook.script(failure, failure)
    task = send(wire, "echo retried", {"url": hook.url, "id": "r"})
    got = hook.wait_for(finished(task["id"]), "the completed status")
    failed = [n for n in got if n.status != 200]
    assert [n.status for n in failed] == [failure.status] * 2
    # The first event failed twice, then went through: same id every time.
    assert [n.id for n in got[:3]] == [f"{task['id']}/r/1"] * 3
    accepted = [n.seq for n in got if n.status == 200]
    assert accepted == list(range(1, len(accepted) + 1))
    # A redirect is an answer, not an instruction: nothing went elsewhere.
    assert all(n.path == "/hook" for n in got)


def test_a_webhook_that_keeps_failing_is_dead_lettered_and_can_be_revived(
    wire: Wire, hook: Receiver, tmp_path: Path
) -> None:
    hook.script(always=Answer(500))
    task = send(wire, "echo doomed", {"url": hook.url, "id": "d"})
    # A second store on the same file, as another instance would open it.
    store = SQLiteTaskStore(tmp_path / "tasks.db")
    everyone = Scope(tenant="", owner=None)

    async def dead() -> list[PushConfigRecord]:
        async with store:
            return await store.dead_push_configs(scope=everyone)

    async def revive() -> bool:
        async with store:
            return await store.revive_push_config(task["id"], "d", scope=everyone)

    hook.wait_for(lambda got: len(got) >= 4, "four attempts")
    (record,) = eventually(lambda: anyio.run(dead), "the config to be dead-lettered")
    assert (record.task_id, record.config_id) == (task["id"], "d")
    assert "answered 500" in record.dead_reason
    assert record.delivered_seq == 0
    assert len(hook.received) == 4  # given up: no fifth attempt was made
    # Revived, it delivers everything from where it stopped.
    hook.script(always=Answer(200))
    assert anyio.run(revive)
    got = hook.wait_for(finished(task["id"]), "the completed status after revival")
    accepted = [n.seq for n in got if n.status == 200]
    assert accepted == list(range(1, len(accepted) + 1))


def eventually(read: Callable[[], list[T]], what: str) -> list[T]:
    """Poll ``read`` until it returns something (a deadline, not an ordering)."""
    deadline = time.monotonic() + DEADLINE
    while not (found := read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return found


def test_nothing_is_sent_after_a_config_is_deleted(wire: Wire, hook: Receiver) -> None:
    GATE.opened = False
    try:
        task = send(
            wire,
            "gate",
            {"url": hook.url + "/gone", "id": "gone"},
            returnImmediately=True,
        )
        wire.call(
            "CreateTaskPushNotificationConfig",
            {"taskId": task["id"], "id": "kept", "url": hook.url + "/kept"},
        )
        hook.wait_for(
            lambda got: any(n.path == "/hook/gone" and n.seq >= 2 for n in got),
            "the WORKING status on the first webhook",
        )
        wire.call(
            "DeleteTaskPushNotificationConfig", {"taskId": task["id"], "id": "gone"}
        )
        sent_before = len([n for n in hook.accepted() if n.path == "/hook/gone"])
    finally:
        GATE.opened = True
    got = hook.wait_for(finished(task["id"]), "the completed status on the kept one")
    assert all(n.path == "/hook/kept" for n in got if "COMPLETED" in str(n.body))
    assert len([n for n in got if n.path == "/hook/gone"]) == sent_before


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    delays = [backoff(n, base=1.0, cap=60.0, rng=rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        full = min(60.0, 2.0 ** (n - 1))
        assert full / 2 <= delay <= full
    assert backoff(1, base=1.0, cap=60.0, retry_after=30.0, rng=rng) == 30.0
    # Retry-After is honoured up to the cap.
    assert backoff(1, base=1.0, cap=60.0, retry_after=3600.0, rng=rng) == 60.0


def test_retry_after_values() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00") is None  # no zone
    assert (
        retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    )
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_the_memory_store_delivers_too(hook: Receiver, http: httpx.Client) -> None:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    # No key given: the memory store does not outlive the process, so one is made.
    app = A2AApp(agent, push=settings(keys=()))
    with serve(app) as url:
        task = send(
            Wire(url, "JSONRPC", http), "chunks 2", {"url": hook.url, "id": "m"}
        )
        got = hook.wait_for(finished(task["id"]), "the completed status")
    assert [n.seq for n in got] == list(range(1, len(got) + 1))


def test_signed_notifications_verify_with_the_keys_the_card_names(
    hook: Receiver, http: httpx.Client, tmp_path: Path
) -> None:
    key = JWK.generate("ES256", kid="push-key")
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    app = A2AApp(
        agent,
        store=SQLiteTaskStore(tmp_path / "tasks.db"),
        push=settings(),
        card_signer=key,
    )
    with serve(app) as url:
        card = http.get(url + "/.well-known/agent-card.json").json()
        (extension,) = [
            e
            for e in card["capabilities"]["extensions"]
            if e["uri"] == SIGNED_PUSH_EXTENSION
        ]
        jwks_url = extension["params"]["jwksUrl"]
        assert jwks_url == url + "/.well-known/jwks.json"
        keys = JWKSet.from_dict(http.get(jwks_url).json())
        task = send(
            Wire(url, "HTTP+JSON", http), "echo signed", {"url": hook.url, "id": "s"}
        )
        got = hook.wait_for(finished(task["id"]), "the completed status")
    for note in got:
        signed = verify_notification(
            note.headers["accord-signature"],
            note.raw,
            keys,
            audience=hook.url,
            notification_id=note.id,
        )
        assert signed.key.kid == "push-key"
        assert signed.notification_id == note.id
    # One byte changed, or the notification replayed to another receiver: refused.
    first = got[0]
    body = first.raw
    with pytest.raises(SignatureError):
        verify_notification(
            first.headers["accord-signature"], body.replace(b"task", b"tusk"), keys
        )
    with pytest.raises(TokenError):
        verify_notification(
            first.headers["accord-signature"], body, keys, audience="https://elsewhere/"
        )


def test_an_unsigned_agent_declares_no_signing(wire: Wire, http: httpx.Client) -> None:
    card = http.get(wire.base + "/.well-known/agent-card.json").json()
    uris = [e["uri"] for e in card["capabilities"].get("extensions", [])]
    assert SIGNED_PUSH_EXTENSION not in uris


async def _no_such_name(host: str, port: int) -> list[str]:
    raise OSError(f"no such name: {host}")


@pytest.mark.parametrize(
    ("url", "egress", "says"),
    [
        ("http://127.0.0.1:1/hook", {}, "cannot reach the webhook"),
        ("http://hooks.test/hook", {"resolver": _no_such_name}, "did not resolve"),
        ("held", {"read_timeout": 0.2}, "did not answer within"),
        ("trickle", {}, "did not answer within 0.5 s"),
        ("hang up", {}, "the webhook connection failed"),
    ],
)
def test_webhooks_that_cannot_be_reached_are_dead_lettered_with_the_reason(
    tmp_path: Path,
    http: httpx.Client,
    hook: Receiver,
    url: str,
    egress: dict[str, Any],
    says: str,
) -> None:
    held = threading.Event()
    misbehaving = {"trickle": trickle, "hang up": hang_up}
    with ExitStack() as stack:
        if url == "held":
            hook.script(always=Answer(200, hold=held))
            url = hook.url
        elif url in misbehaving:
            url = stack.enter_context(raw_server(misbehaving[url]))
        stack.callback(held.set)
        policy = EgressPolicy(allow=("127.0.0.1", "hooks.test"), **egress)
        agent = Agent(
            behave, name="Pushy", description="pushes", push_notifications=True
        )
        db = tmp_path / "tasks.db"
        push = settings(egress=policy, give_up_after=2, attempt_timeout=0.5)
        app = A2AApp(agent, store=SQLiteTaskStore(db), push=push)
        with serve(app) as base:
            send(Wire(base, "HTTP+JSON", http), "echo x", {"url": url, "id": "u"})
            (record,) = eventually(lambda: anyio.run(dead_configs, db), "dead letter")
    assert says in record.dead_reason
    assert record.dead_reason.startswith("2 attempts failed")


async def dead_configs(db: Path) -> list[PushConfigRecord]:
    async with SQLiteTaskStore(db) as store:
        return await store.dead_push_configs(scope=Scope(tenant="", owner=None))


def test_a_config_sealed_with_a_key_no_longer_given_is_dead_lettered(
    tmp_path: Path, http: httpx.Client, hook: Receiver
) -> None:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    db = tmp_path / "tasks.db"
    held = threading.Event()
    hook.script(always=Answer(200, hold=held))
    try:
        with serve(A2AApp(agent, store=SQLiteTaskStore(db), push=settings())) as base:
            send(
                Wire(base, "HTTP+JSON", http), "echo x", {"url": hook.url, "id": "old"}
            )
            # Stopped while a delivery is in flight: the config is handed back at
            # once, not when its lease (60 s, beyond the test's deadline) runs out.
            hook.wait_for(lambda got: len(got) >= 1, "a delivery in flight")
    finally:
        held.set()
    # Restarted with another key (the old one lost, not rotated in).
    with serve(A2AApp(agent, store=SQLiteTaskStore(db), push=settings())):
        (record,) = eventually(lambda: anyio.run(dead_configs, db), "dead letter")
    assert "cannot be opened" in record.dead_reason
    assert "key this server does not have" in record.dead_reason


class _StoreThatFailsOnce(MemoryTaskStore):
    """A memory store whose first delivery claim fails as a database outage would."""

    failed = False

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[PushDelivery]:
        if not self.failed:
            self.failed = True
            raise StoreUnavailableError("the database is restarting")
        return await super().claim_push_deliveries(
            holder=holder, seconds=seconds, limit=limit
        )


def test_a_store_outage_delays_delivery_and_loses_nothing(
    hook: Receiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    store = _StoreThatFailsOnce()
    app = A2AApp(agent, store=store, push=settings(keys=()))
    with (
        caplog.at_level(logging.WARNING, "accord.server.push.delivery"),
        serve(app) as url,
    ):
        task = send(Wire(url, "JSONRPC", http), "echo x", {"url": hook.url})
        got = hook.wait_for(finished(task["id"]), "the completed status")
    assert store.failed
    assert [n.seq for n in got] == list(range(1, len(got) + 1))
    assert "cannot claim work: the database is restarting" in caplog.text


@contextmanager
def first_held(hook: Receiver) -> Iterator[threading.Event]:
    """The receiver holds the first notification unanswered until the event is set
    (at the latest when the block ends)."""
    held = threading.Event()
    hook.script(Answer(200, hold=held))
    try:
        yield held
    finally:
        held.set()


def send_until_held(url: str, http: httpx.Client, hook: Receiver) -> str:
    """Send a task that pushes to ``hook``; its id, once the first notification
    arrived (held by :func:`first_held`)."""
    task = send(Wire(url, "JSONRPC", http), "chunks 2", {"url": hook.url})
    hook.wait_for(lambda got: len(got) >= 1, "the first notification")
    return str(task["id"])


class _StoreThatCannotRenew(MemoryTaskStore):
    """A memory store whose delivery leases cannot be renewed (as in a database
    outage), and that notes when a claim takes a config again that an earlier claim
    took (its lease ran out, or it was handed back)."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed: set[tuple[str, str]] = set()
        self.reclaimed = threading.Event()

    async def renew_push_leases(
        self, keys: Sequence[tuple[str, str]], *, holder: str, seconds: float
    ) -> int:
        raise StoreUnavailableError("the database is restarting")

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[PushDelivery]:
        got = await super().claim_push_deliveries(
            holder=holder, seconds=seconds, limit=limit
        )
        for delivery in got:
            key = (delivery.config.task_id, delivery.config.config_id)
            if key in self.claimed:
                self.reclaimed.set()
            self.claimed.add(key)
        return got


def test_an_attempt_that_outlasts_an_unrenewed_lease_is_not_started_twice(
    hook: Receiver, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    store = _StoreThatCannotRenew()
    # The first notification is held longer than the lease, which cannot be renewed:
    # the deliverer's own next claim takes the config again while that attempt is
    # under way.
    push = settings(keys=(), lease_seconds=0.2, attempt_timeout=DEADLINE)
    with (
        first_held(hook) as held,
        caplog.at_level(logging.WARNING, "accord.server.push.delivery"),
        serve(A2AApp(agent, store=store, push=push)) as url,
    ):
        task_id = send_until_held(url, http, hook)
        assert store.reclaimed.wait(DEADLINE), "the lease was not taken again"
        held.set()
        got = hook.wait_for(finished(task_id), "the completed status")
    # Each notification once: the claim renewed the lease, and started nothing.
    assert [n.seq for n in got] == list(range(1, len(got) + 1))
    assert "cannot renew leases: the database is restarting" in caplog.text


class _StoreThatWatchesClaims(SQLiteTaskStore):
    """A SQLite store that tells when its deliverer looked for work (claimed) after
    a given time."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.after = float("inf")  # time.monotonic()
        self.looked = threading.Event()

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[PushDelivery]:
        if time.monotonic() > self.after:
            self.looked.set()
        return await super().claim_push_deliveries(
            holder=holder, seconds=seconds, limit=limit
        )


def test_a_delivery_under_way_keeps_its_config_from_another_instance(
    tmp_path: Path, hook: Receiver, http: httpx.Client
) -> None:
    agent = Agent(behave, name="Pushy", description="pushes", push_notifications=True)
    lease = 0.2
    push = settings(
        keys=[generate_key()], lease_seconds=lease, attempt_timeout=DEADLINE
    )
    stores = [_StoreThatWatchesClaims(tmp_path / "tasks.db") for _ in range(2)]
    with (
        first_held(hook) as held,
        serve(A2AApp(agent, store=stores[0], push=push)) as url,
        serve(A2AApp(agent, store=stores[1], push=push)),
    ):
        task_id = send_until_held(url, http, hook)
        # Both instances look for work after the lease would have run out three
        # times over, while the attempt is still held.
        for store in stores:
            store.after = time.monotonic() + 3 * lease
        for store in stores:
            assert store.looked.wait(DEADLINE), "an instance stopped claiming"
        held.set()
        got = hook.wait_for(finished(task_id), "the completed status")
    # Each notification once: the lease of the delivery under way was renewed, so
    # neither the other instance nor its own took the config over.
    assert [n.seq for n in got] == list(range(1, len(got) + 1))
