"""Required extensions (spec §3.3.4): a message from a client that did not activate
every extension the card marks ``required`` gets ExtensionSupportRequiredError, on
every binding; other operations and optional extensions are not affected."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from accord.server import A2AApp, Agent, TaskContext
from accord.stores import MemoryTaskStore
from accord.types import AgentExtension

from .conftest import Wire, WireError, serve, user_message

REQUIRED = "urn:example:required/v2"
OPTIONAL = "urn:example:optional/v1"


async def _complete(ctx: TaskContext) -> None:
    await ctx.complete("done")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    agent = Agent(
        _complete,
        name="Strict",
        description="needs an extension",
        extensions=[
            AgentExtension(uri=REQUIRED, description="must be on", required=True),
            AgentExtension(uri=OPTIONAL, description="may be on"),
        ],
    )
    with serve(A2AApp(agent, store=MemoryTaskStore())) as base:
        yield base


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def wire(request: pytest.FixtureRequest, url: str, http: httpx.Client) -> Wire:
    return Wire(url, str(request.param), http)


def _send(wire: Wire, extensions: str | None) -> httpx.Response:
    headers = {} if extensions is None else {"A2A-Extensions": extensions}
    req = wire.request("SendMessage", {"message": user_message("hi")}, headers=headers)
    return wire.http.send(req)


@pytest.mark.parametrize(
    "activated",
    [None, "", OPTIONAL, "urn:example:required/v1", f"{REQUIRED}x"],
    ids=["none", "empty", "only-optional", "older-version", "other-uri"],
)
def test_a_message_without_the_required_extension_is_refused(
    wire: Wire, activated: str | None
) -> None:
    r = _send(wire, activated)
    err = wire.error(r)
    assert err.reason == "EXTENSION_SUPPORT_REQUIRED"
    if wire.binding == "JSONRPC":
        assert err.code == -32008
    else:
        assert err.status == 400
    assert REQUIRED in err.message
    assert "A2A-Extensions" in err.message  # what to do next


def test_a_streaming_message_without_it_is_refused(wire: Wire) -> None:
    with pytest.raises(WireError) as refused:
        wire.stream("SendStreamingMessage", {"message": user_message("hi")})
    assert refused.value.reason == "EXTENSION_SUPPORT_REQUIRED"


@pytest.mark.parametrize(
    "activated", [REQUIRED, f"{OPTIONAL}, {REQUIRED}", f"{REQUIRED} ,urn:x"]
)
def test_a_message_with_it_is_served(wire: Wire, activated: str) -> None:
    r = _send(wire, activated)
    assert r.status_code == 200, r.text
    body = r.json()
    task = body["result"]["task"] if wire.binding == "JSONRPC" else body["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"


def test_operations_that_deliver_no_message_do_not_need_it(wire: Wire) -> None:
    sent = _send(wire, REQUIRED).json()
    task = sent["result"]["task"] if wire.binding == "JSONRPC" else sent["task"]
    got = wire.call("GetTask", {"id": task["id"]})
    assert got["id"] == task["id"]
    assert wire.call("ListTasks", {})["tasks"]


@pytest.mark.parametrize("header", ["A2A-Extensions", "X-A2A-Extensions"])
def test_a_v03_client_activates_it_with_either_header_name(
    url: str, http: httpx.Client, header: str
) -> None:
    """v0.3 named the header X-A2A-Extensions; a v0.3 request may use either."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": "m-v03-ext",
                "role": "user",
                "parts": [{"kind": "text", "text": "hi"}],
            },
            "configuration": {"blocking": True},
        },
    }
    refused = http.post(url + "/", json=body).json()
    assert refused["error"]["code"] == -32008
    served = http.post(url + "/", json=body, headers={header: REQUIRED}).json()
    assert served["result"]["status"]["state"] == "completed"
