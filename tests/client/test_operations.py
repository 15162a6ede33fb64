"""Every operation on both HTTP bindings, against a fake agent speaking the real wire."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from accord.client import Client
from accord.types import (
    AuthenticationInfo,
    Empty,
    ListTaskPushNotificationConfigsResponse,
    ListTasksResponse,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageResponse,
    TaskPushNotificationConfig,
    TaskState,
)

from .helpers import FakeAgent, agent_message, interface, make_card, task

pytestmark = pytest.mark.anyio

BINDINGS = ["JSONRPC", "HTTP+JSON"]


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent()


@pytest.fixture
async def client(agent: FakeAgent, binding: str) -> AsyncIterator[Client]:
    async with (
        agent.client() as http,
        Client(make_card(interface(binding)), http=http) as client,
    ):
        yield client


async def test_send_text_builds_a_user_message(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SendMessage", SendMessageResponse(task=task()))

    result = await client.send_message("hello", context_id="c-1")

    assert result == task()
    sent = agent.last.params.message
    assert sent.role is Role.USER
    assert sent.parts == (Part(text="hello"),)
    assert sent.context_id == "c-1"
    assert uuid.UUID(sent.message_id)


async def test_send_message_object_and_configuration(
    agent: FakeAgent, client: Client
) -> None:
    agent.on("SendMessage", SendMessageResponse(message=agent_message("pong")))
    message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="ping"),))
    configuration = SendMessageConfiguration(history_length=2, return_immediately=True)

    result = await client.send_message(
        message, task_id="t-9", configuration=configuration, metadata={"k": [1]}
    )

    assert result == agent_message("pong")
    params = agent.last.params
    assert params.message.message_id == "m-1"
    assert params.message.task_id == "t-9"
    assert params.configuration == configuration
    assert params.metadata == {"k": [1]}


async def test_get_task(agent: FakeAgent, client: Client, binding: str) -> None:
    agent.on("GetTask", task("t-7"))

    assert await client.get_task("t-7", history_length=3) == task("t-7")

    assert agent.last.params.id == "t-7"
    assert agent.last.params.history_length == 3
    if binding == "HTTP+JSON":
        request = agent.last.request
        assert (request.method, request.url.path) == ("GET", "/rest/tasks/t-7")
        assert request.url.params["historyLength"] == "3"


async def test_list_tasks_sends_every_filter(agent: FakeAgent, client: Client) -> None:
    page = ListTasksResponse(
        tasks=(task(),), next_page_token="", page_size=5, total_size=1
    )
    agent.on("ListTasks", page)
    after = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

    result = await client.list_tasks(
        context_id="c-1",
        status=TaskState.WORKING,
        page_size=5,
        page_token="p2",
        history_length=0,
        status_timestamp_after=after,
        include_artifacts=True,
    )

    assert result == page
    params = agent.last.params
    assert params.context_id == "c-1"
    assert params.status is TaskState.WORKING
    assert (params.page_size, params.page_token, params.history_length) == (5, "p2", 0)
    assert params.status_timestamp_after == "2025-01-02T03:04:05.000Z"
    assert params.include_artifacts is True


async def test_list_tasks_without_filters(agent: FakeAgent, client: Client) -> None:
    agent.on("ListTasks", ListTasksResponse())

    assert (await client.list_tasks()).tasks == ()
    assert agent.last.params.status is TaskState.UNSPECIFIED


async def test_cancel_task(agent: FakeAgent, client: Client) -> None:
    agent.on("CancelTask", task(state=TaskState.CANCELED))

    result = await client.cancel_task("t-1", metadata={"why": "test"})

    assert result.status.state is TaskState.CANCELED
    assert (agent.last.params.id, agent.last.params.metadata) == (
        "t-1",
        {"why": "test"},
    )


async def test_push_config_crud(agent: FakeAgent, client: Client) -> None:
    stored = TaskPushNotificationConfig(
        id="p-1", task_id="t-1", url="https://hook.test/a", token="tok"
    )
    agent.on("CreateTaskPushNotificationConfig", stored)
    agent.on("GetTaskPushNotificationConfig", stored)
    agent.on(
        "ListTaskPushNotificationConfigs",
        ListTaskPushNotificationConfigsResponse(configs=(stored,), next_page_token="n"),
    )
    agent.on("DeleteTaskPushNotificationConfig", Empty())
    auth = AuthenticationInfo(scheme="Bearer", credentials="secret")

    created = await client.create_push_config(
        "t-1", "https://hook.test/a", token="tok", authentication=auth
    )
    assert created == stored
    assert agent.last.params.task_id == "t-1"
    assert agent.last.params.authentication == auth

    assert await client.get_push_config("t-1", "p-1") == stored
    assert (agent.last.params.task_id, agent.last.params.id) == ("t-1", "p-1")

    listed = await client.list_push_configs("t-1", page_size=10, page_token="x")
    assert listed.configs == (stored,)
    assert (agent.last.params.page_size, agent.last.params.page_token) == (10, "x")

    await client.delete_push_config("t-1", "p-1")
    assert agent.last.operation == "DeleteTaskPushNotificationConfig"


async def test_get_extended_agent_card_replaces_the_card(
    agent: FakeAgent, client: Client, binding: str
) -> None:
    extended = make_card(interface(binding), name="Extended")
    agent.on("GetExtendedAgentCard", extended)

    assert await client.get_extended_agent_card() == extended
    assert client.card == extended


async def test_every_request_carries_the_version_header(
    agent: FakeAgent, client: Client, binding: str
) -> None:
    agent.on("GetTask", task())
    agent.on("SendMessage", SendMessageResponse(task=task()))

    await client.get_task("t-1")
    await client.send_message("x")

    for seen in agent.seen:
        assert seen.request.headers["A2A-Version"] == "1.0"
    post = agent.seen[-1].request
    expected = "application/json" if binding == "JSONRPC" else "application/a2a+json"
    assert post.headers["Content-Type"] == expected


async def test_extra_headers_are_sent_but_cannot_override_the_version(
    agent: FakeAgent, binding: str
) -> None:
    agent.on("GetTask", task())
    headers = {"Authorization": "Bearer abc", "a2a-version": "0.3"}
    async with (
        agent.client() as http,
        Client(make_card(interface(binding)), http=http, headers=headers) as client,
    ):
        await client.get_task("t-1")

    sent = agent.last.request.headers
    assert sent["Authorization"] == "Bearer abc"
    assert sent.get_list("A2A-Version") == ["1.0"]


@pytest.mark.parametrize("tenant", ["acme", "team/one"])
async def test_tenant_is_copied_into_every_request(
    agent: FakeAgent, binding: str, tenant: str
) -> None:
    agent.on("GetTask", task())
    agent.on("ListTasks", ListTasksResponse())
    agent.on("CancelTask", task())
    agent.on("DeleteTaskPushNotificationConfig", Empty())
    agent.on("GetExtendedAgentCard", make_card(interface(binding)))
    card = make_card(interface(binding, tenant=tenant))
    async with agent.client() as http, Client(card, http=http) as client:
        await client.get_task("t-1")
        await client.list_tasks()
        await client.cancel_task("t-1")
        await client.delete_push_config("t-1", "p-1")
        await client.get_extended_agent_card()

    assert [s.params.tenant for s in agent.seen] == [tenant] * 5
    if binding == "HTTP+JSON":
        prefix = "/rest/" + tenant.replace("/", "%2F") + "/"
        assert all(
            s.request.url.raw_path.decode().startswith(prefix) for s in agent.seen
        )


async def test_no_tenant_is_sent_when_the_interface_has_none(
    agent: FakeAgent, client: Client, binding: str
) -> None:
    agent.on("GetTask", task())

    await client.get_task("t-1")

    if binding == "JSONRPC":
        assert "tenant" not in json.loads(agent.last.body)["params"]
    else:
        assert agent.last.request.url.path == "/rest/tasks/t-1"
