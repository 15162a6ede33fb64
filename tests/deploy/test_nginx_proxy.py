"""Two ``accord serve --db postgresql://...`` instances behind a real nginx.

The README's section "Run several instances" says what a proxy in front of instances
must do and gives an nginx configuration; these tests run that very configuration
(``tests/deploy/nginx.py``) with two instances on one fresh PostgreSQL schema, and a
client that talks to the proxy alone (the HTTP+JSON binding, so that nginx's access
log names each operation and the instance that answered it; both bindings where an
instance dies). They show: the Agent Card advertises the proxy (from the forwarded
headers, or the public URL), requests go to both instances, any instance finds any
task, streams go through unbuffered to their end, and one instance stopping leaves the
service answering; a request the stopped instance had already received is lost (nginx
does not resend a POST: 502, or a stream cut short) but its task is not.

Slow (subprocesses); skipped without nginx (``scripts/nginx`` installs it), except in
CI, where they fail.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from accord.client import Client, ClientConfig
from accord.errors import HTTPStatusError, IncompleteStreamError
from accord.types import SendMessageConfiguration, StreamResponse, TaskState
from tests.stores._postgres import admin, require_postgres_now, schema_url

from .nginx import STEPS, Instance, Proxy, instance, nginx_binary, proxy

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(300)]

REST = ClientConfig(preferred_bindings=("HTTP+JSON",))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the servers are subprocesses; one back end is enough here


@dataclass(frozen=True)
class Deployment:
    a: Instance
    b: Instance
    proxy: Proxy
    cues: Path

    def ports(self) -> dict[str, str]:
        """Upstream address -> instance name."""
        return {f"127.0.0.1:{i.port}": i.name for i in (self.a, self.b)}


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (the instances migrate it), dropped after."""
    nginx_binary()
    require_postgres_now()
    schema = f"t_proxy_{abs(hash(object())):x}"
    admin(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(schema)
    finally:
        admin(f"DROP SCHEMA {schema} CASCADE")


def _deploy(folder: Path, db: str, *extra: str) -> Iterator[Deployment]:
    with ExitStack() as stack:
        a = stack.enter_context(instance("A", folder, db, extra))
        b = stack.enter_context(instance("B", folder, db, extra))
        front = stack.enter_context(proxy(folder, a, b))
        yield Deployment(a, b, front, folder / "cues")


@pytest.fixture
def forwarded(tmp_path: Path, database: str) -> Iterator[Deployment]:
    """Instances that believe the proxy's X-Forwarded-* headers (README's advice)."""
    yield from _deploy(
        tmp_path, database, "--forwarded-allow-ips", "127.0.0.1", "--lease-seconds", "2"
    )


async def _cue(cues: Path, name: str) -> str:
    """Wait until the held task ``name`` started; return the instance running it."""
    started = cues / f"{name}.started"
    while not started.exists() or not started.read_text():  # noqa: ASYNC110 - a file
        await anyio.sleep(0.02)
    return started.read_text()


def _status_texts(events: list[StreamResponse]) -> list[str]:
    texts = []
    for event in events:
        update = event.status_update
        if update is not None and update.status.message is not None:
            texts.append(update.status.message.text)
    return texts


async def test_through_nginx_any_instance_serves_any_task(
    forwarded: Deployment,
) -> None:
    d = forwarded
    with anyio.fail_after(120):
        async with await Client.connect(d.proxy.url, config=REST) as client:
            # The card, fetched through the proxy, advertises the proxy.
            assert client.card is not None
            urls = [i.url for i in client.card.supported_interfaces]
            assert urls
            assert all(u.startswith(d.proxy.url) for u in urls), urls
            # SendMessage: round robin over both instances.
            ran = []
            for n in range(6):
                task = await client.send_message(f"count {n}")
                assert not isinstance(task, type(None))
                ran.append(task)
            by = {t.status.message.text for t in ran if t.status.message is not None}  # type: ignore[union-attr]
            assert by == {"ran on A", "ran on B"}
            # GetTask, twice per task: each read by both instances (checked below).
            for task in ran:
                for _ in range(2):
                    got = await client.get_task(task.id)  # type: ignore[union-attr]
                    assert got.status.state is TaskState.COMPLETED
            # ListTasks, on either instance, lists the tasks both made.
            for _ in range(2):
                listed = await client.list_tasks(page_size=50)
                assert {t.id for t in listed.tasks} == {t.id for t in ran}  # type: ignore[union-attr]
    served: dict[str, set[str]] = {}
    for method, uri, status, upstream in d.proxy.upstreams():
        assert status == "200", (method, uri, status, upstream)
        served.setdefault(f"{method} {uri.split('?')[0]}", set()).add(
            d.ports()[upstream]
        )
    assert served["POST /message:send"] == {"A", "B"}
    for task in ran:
        assert served[f"GET /tasks/{task.id}"] == {"A", "B"}  # type: ignore[union-attr]
    assert served["GET /tasks"] == {"A", "B"}


async def test_streams_through_nginx_deliver_every_event(
    forwarded: Deployment,
) -> None:
    d = forwarded
    with anyio.fail_after(120):
        async with await Client.connect(d.proxy.url, config=REST) as client:
            # SendStreamingMessage: the first events arrive while the task waits for
            # its cue (the proxy does not hold them back), then every step, the end.
            async with client.send_streaming_message("hold-s") as stream:
                events = []
                async for event in stream:
                    events.append(event)
                    if _status_texts([event]) == [
                        f"started on {await _cue(d.cues, 's')}"
                    ]:
                        break
                (d.cues / "s.go").touch()
                events.extend([event async for event in stream])
            ran_on = (d.cues / "s.started").read_text()
            assert _status_texts(events) == [
                f"started on {ran_on}",
                *(f"step {i}" for i in range(STEPS)),
                f"ran on {ran_on}",
            ]
            assert stream.state is TaskState.COMPLETED
            # SubscribeToTask, twice at once (so on both instances): each follower gets
            # the snapshot, then every later event, whichever instance runs the task.
            held = await client.send_message(
                "hold-t",
                configuration=SendMessageConfiguration(return_immediately=True),
            )
            task_id = held.id  # type: ignore[union-attr]
            ran_on = await _cue(d.cues, "t")
            followers = [client.subscribe(task_id), client.subscribe(task_id)]
            async with followers[0], followers[1]:
                snapshots = [await anext(f) for f in followers]
                assert all(s.task is not None for s in snapshots)
                (d.cues / "t.go").touch()
                for follower in followers:
                    rest = [event async for event in follower]
                    assert _status_texts(rest) == [
                        *(f"step {i}" for i in range(STEPS)),
                        f"ran on {ran_on}",
                    ]
                    assert follower.state is TaskState.COMPLETED
    subscribed = {
        d.ports()[upstream]
        for method, uri, _, upstream in d.proxy.upstreams()
        if uri.startswith(f"/tasks/{task_id}:subscribe")
    }
    assert subscribed == {"A", "B"}


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_one_instance_stopped_the_proxy_still_answers(
    forwarded: Deployment, binding: str
) -> None:
    d = forwarded
    with anyio.fail_after(120):
        async with await Client.connect(
            d.proxy.url, config=ClientConfig(preferred_bindings=(binding,))
        ) as client:
            # A blocking SendMessage held by one instance, which is then killed: the
            # request had reached it, so nginx does not resend it (a POST), and the
            # client gets 502 Bad Gateway.
            async with anyio.create_task_group() as tg:
                failures: list[BaseException] = []

                async def send() -> None:
                    try:
                        await client.send_message("hold-k")
                    except HTTPStatusError as exc:
                        failures.append(exc)

                tg.start_soon(send)
                victim_name = await _cue(d.cues, "k")
                victim, survivor = (d.a, d.b) if victim_name == "A" else (d.b, d.a)
                victim.process.send_signal(signal.SIGKILL)
            assert len(failures) == 1
            assert isinstance(failures[0], HTTPStatusError)
            assert failures[0].status_code == 502
            # Every later request is answered by the survivor (nginx retries a
            # refused connection on the other upstream, POST included).
            for n in range(4):
                task = await client.send_message(f"after {n}")
                assert task.status.message.text == f"ran on {survivor.name}"  # type: ignore[union-attr]
            # The lost request's task is there; the survivor takes it over once its
            # lease expires and ends it FAILED (the agent is not retry_safe).
            listed = await client.list_tasks(page_size=50)
            lost = [
                t for t in listed.tasks if t.status.state is not TaskState.COMPLETED
            ]
            assert len(lost) == 1
            state = TaskState.WORKING
            while state is not TaskState.FAILED:
                await anyio.sleep(0.1)
                state = (await client.get_task(lost[0].id)).status.state
    upstreams = d.proxy.upstreams()
    assert any(status == "502" for _, _, status, _ in upstreams)


async def test_an_instance_that_stops_is_skipped_post_included(
    forwarded: Deployment,
) -> None:
    d = forwarded
    with anyio.fail_after(120):
        async with await Client.connect(d.proxy.url, config=REST) as client:
            d.b.process.send_signal(signal.SIGTERM)
            await anyio.to_thread.run_sync(d.b.process.wait)
            # nginx does not know yet: its next request for B finds the port closed,
            # and nginx passes the request, a POST, to A (nothing reached B).
            for n in range(4):
                task = await client.send_message(f"after {n}")
                assert task.status.message.text == "ran on A"  # type: ignore[union-attr]
    a, b = f"127.0.0.1:{d.a.port}", f"127.0.0.1:{d.b.port}"
    tried = [
        (status, upstream)
        for method, _, status, upstream in d.proxy.upstreams()
        if method == "POST"
    ]
    assert ("200", f"{b}, {a}") in tried, tried
    assert all(status == "200" for status, _ in tried), tried


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_a_stream_cut_by_a_dying_instance_resumes_through_the_proxy(
    forwarded: Deployment, binding: str
) -> None:
    d = forwarded
    with anyio.fail_after(120):
        async with await Client.connect(
            d.proxy.url, config=ClientConfig(preferred_bindings=(binding,))
        ) as client:
            stream = client.send_streaming_message("hold-x")
            async with stream:
                async for event in stream:
                    if _status_texts([event]) == [
                        f"started on {await _cue(d.cues, 'x')}"
                    ]:
                        break
                victim = d.a if (d.cues / "x.started").read_text() == "A" else d.b
                victim.process.send_signal(signal.SIGKILL)
                with pytest.raises(IncompleteStreamError) as cut:
                    async for _ in stream:
                        pass
            assert cut.value.task_id == stream.task_id
            # Resumed through the proxy, on the survivor: it takes the task over when
            # its lease expires and ends it FAILED (the agent is not retry_safe).
            async with client.subscribe(
                stream.task_id, last_event_id=stream.last_event_id
            ) as resumed:
                rest = [event async for event in resumed]
            assert resumed.state is TaskState.FAILED, rest


async def test_with_a_public_url_every_instance_advertises_it(
    tmp_path: Path, database: str
) -> None:
    public = "https://agents.example.com/counter"
    for d in _deploy(tmp_path, database, "--public-url", public):
        cards: list[dict[str, Any]] = []
        answered: set[str] = set()
        # Until both instances have answered: nginx skips an upstream for a while
        # after a failed attempt (its max_fails), which a busy start can cause.
        with anyio.fail_after(60):
            async with httpx.AsyncClient(base_url=d.proxy.url, timeout=30) as http:
                while answered != {"A", "B"}:
                    cards.append(
                        (await http.get("/.well-known/agent-card.json")).json()
                    )
                    answered = {
                        d.ports()[upstream.split(", ")[-1]]
                        for _, _, _, upstream in d.proxy.upstreams()
                    }
                    if answered != {"A", "B"}:
                        await anyio.sleep(0.05)  # pacing a deadline-bounded poll
        interfaces = [i["url"] for card in cards for i in card["supportedInterfaces"]]
        assert interfaces
        assert all(u.startswith(public) for u in interfaces), interfaces
