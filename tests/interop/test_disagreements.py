"""Where Accord and the official SDK (a2a-sdk 1.3.0) differ on the wire, the spec decides.

Each test pins down what both sides do today; docs/interop.md says which one the spec
backs (Dn numbers below) and what follows. The two servers are the session servers of
the interop suite, so their traffic is checked for lossless decoding too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from a2a.types import a2a_pb2 as pb
from a2a.utils.errors import TaskNotFoundError as SdkTaskNotFoundError

from accord.errors import TaskNotFoundError
from accord.types import Task, TaskState

from .agents import gate
from .conftest import (
    Served,
    accord_client,
    assert_lossless,
    drain,
    sdk_clients,
)
from .lossless import instant
from .wire import CARD_PATH

pytestmark = pytest.mark.anyio

V1 = {"A2A-Version": "1.0"}


@pytest.fixture(autouse=True)
def lossless(accord_server: Served, sdk_server: Served) -> Iterator[None]:
    """Every payload of the test decodes without loss on the receiving side."""
    yield from assert_lossless(accord_server, sdk_server)


@pytest.fixture(params=["accord", "sdk"])
def server(
    request: pytest.FixtureRequest, accord_server: Served, sdk_server: Served
) -> Served:
    return accord_server if request.param == "accord" else sdk_server


# --- D2: version negotiation ---------------------------------------------------------------

ACCEPTED, REFUSED = "accepted", "refused"

# How the version is sent -> (Accord's answer, the SDK's answer). "accepted": the
# request reaches the handler (which answers TaskNotFound); "refused":
# VersionNotSupportedError.
VERSIONS = {
    "header 1.0": (({"A2A-Version": "1.0"}, ""), ACCEPTED, ACCEPTED),
    # spec §3.6.1: patch versions are ignored.
    "header 1.0.7": (({"A2A-Version": "1.0.7"}, ""), ACCEPTED, ACCEPTED),
    # spec §3.6.2: no version means 0.3, which a 1.0-only interface refuses.
    "no version": (({}, ""), REFUSED, REFUSED),
    # spec §3.6: Major.Minor must match. The SDK compares the major only (D2).
    "header 1.1": (({"A2A-Version": "1.1"}, ""), REFUSED, ACCEPTED),
    # spec §3.6.1: HTTP clients MAY send it as a query parameter.
    # The SDK ignores the query parameter and reads 0.3 (D2).
    "query 1.0": (({}, "?A2A-Version=1.0"), ACCEPTED, REFUSED),
}


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
@pytest.mark.parametrize("case", list(VERSIONS))
async def test_version_negotiation(server: Served, binding: str, case: str) -> None:
    (headers, query), accord_answer, sdk_answer = VERSIONS[case]
    expected = accord_answer if server.side == "accord" else sdk_answer
    async with httpx.AsyncClient(timeout=10) as http:
        if binding == "JSONRPC":
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "GetTask",
                "params": {"id": "x"},
            }
            response = await http.post(
                server.url + server.jsonrpc_path + query, json=body, headers=headers
            )
            error = response.json()["error"]
            assert response.status_code == 200  # JSON-RPC errors travel in a 200
            code = error["code"]
            reason = error["data"][0]["reason"]
            assert code == (-32001 if expected == ACCEPTED else -32009)
        else:
            response = await http.get(server.url + "/tasks/x" + query, headers=headers)
            error = response.json()["error"]
            reason = error["details"][0]["reason"]
            assert response.status_code == (404 if expected == ACCEPTED else 400)
    assert reason == (
        "TASK_NOT_FOUND" if expected == ACCEPTED else "VERSION_NOT_SUPPORTED"
    )


# --- D1: the result of DeleteTaskPushNotificationConfig -----------------------------------


async def test_delete_answers_null_over_jsonrpc_and_empty_object_over_rest(
    sdk_server: Served,
) -> None:
    answers: dict[str, tuple[int | None, str, bytes]] = {}
    for binding in ("JSONRPC", "HTTP+JSON"):
        async with accord_client(sdk_server.url, binding) as client:
            task = await client.send_message("ask")
            assert isinstance(task, Task)
            config = await client.create_push_config(task.id, "https://example.com/h")
            sdk_server.recorder.clear()
            await client.delete_push_config(task.id, config.id)
            (exchange,) = sdk_server.recorder.exchanges
            answers[binding] = (
                exchange.status,
                exchange.content_type,
                bytes(exchange.response_body),
            )
            assert binding == "HTTP+JSON" or sdk_server.check().notes == {
                "sdk: JSON-RPC DeleteTaskPushNotificationConfig result null"
            }
            await client.cancel_task(task.id)
    # ProtoJSON of google.protobuf.Empty is {} (spec §5.5); the SDK's JSON-RPC
    # server answers null (v0.3 habit). Accord's client accepts both.
    assert json.loads(answers["JSONRPC"][2])["result"] is None
    # REST: 200 with {} (no 204 is specified); the SDK does exactly that.
    assert answers["HTTP+JSON"] == (200, "application/a2a+json", b"{}")


# --- D4: media types --------------------------------------------------------------------


async def test_media_types(accord_server: Served, sdk_server: Served) -> None:
    async with sdk_clients(accord_server.url, "HTTP+JSON") as sdk:
        accord_server.recorder.clear()
        async for _ in sdk.blocking.send_message(
            pb.SendMessageRequest(
                message=pb.Message(
                    message_id="m", role=pb.ROLE_USER, parts=[pb.Part(text="echo")]
                )
            )
        ):
            pass
        with pytest.raises(Exception, match="not found"):
            await sdk.blocking.get_task(pb.GetTaskRequest(id="no-such-task"))
        sent, failed = accord_server.recorder.exchanges
    async with accord_client(sdk_server.url, "HTTP+JSON") as client:
        sdk_server.recorder.clear()
        await client.send_message("echo")
        with pytest.raises(Exception, match="not found"):
            await client.get_task("no-such-task")
        sdk_sent, sdk_failed = sdk_server.recorder.exchanges

    # Requests: the SDK's REST client sends application/json, Accord's client the
    # preferred application/a2a+json (spec §11: SHOULD); each server takes both.
    assert sent.request_headers["content-type"] == "application/json"
    assert sdk_sent.request_headers["content-type"] == "application/a2a+json"
    # Accord's client also asks for it, on every unary call (a GET has no body).
    assert sdk_failed.request_headers["accept"] == "application/a2a+json"
    # Responses: Accord answers in the type the request asked for or used, else
    # application/json; the SDK's client names application/json or nothing, so it
    # gets application/json, success and error alike. The SDK answers a success with
    # application/a2a+json whatever was sent, and its error bodies as
    # application/json (D4).
    assert sent.content_type == failed.content_type == "application/json"
    assert "a2a+json" not in failed.request_headers.get("accept", "")
    assert sdk_sent.content_type == "application/a2a+json"
    assert failed.status == sdk_failed.status == 404
    assert sdk_failed.content_type == "application/json"


# --- D6: the subscribe verb ---------------------------------------------------------------


async def test_both_clients_subscribe_with_post_and_both_servers_take_get(
    server: Served,
) -> None:
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=10) as http:
        sent = await http.post(
            server.url + "/message:send",
            json={
                "message": {
                    "messageId": key,
                    "role": "ROLE_USER",
                    "parts": [{"text": f"wait {key}"}],
                },
                "configuration": {"returnImmediately": True},
            },
            headers=V1,
        )
        task_id = sent.json()["task"]["id"]
        # The proto annotation says GET, the spec's table POST (spec §11.3.2).
        async with http.stream(
            "GET", f"{server.url}/tasks/{task_id}:subscribe", headers=V1
        ) as stream:
            assert stream.status_code == 200
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    first = json.loads(line[5:])
                    break
    assert first["task"]["id"] == task_id
    gate(key).set()

    # And each client, on REST, subscribes with POST (the other side's client).
    server.recorder.clear()
    if server.side == "accord":
        async with sdk_clients(server.url, "HTTP+JSON") as sdk:
            with pytest.raises(SdkTaskNotFoundError):
                await drain(sdk.streaming.subscribe(pb.SubscribeToTaskRequest(id="x")))
    else:
        async with accord_client(server.url, "HTTP+JSON") as client:
            with pytest.raises(TaskNotFoundError):
                await drain(client.subscribe("x"))
    (subscribe,) = [
        e for e in server.recorder.exchanges if e.path.endswith(":subscribe")
    ]
    assert subscribe.method == "POST"


# --- D12: card caching headers -----------------------------------------------------------


async def test_card_caching_headers(server: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(server.url + CARD_PATH)
        etag = response.headers["etag"]
        again = await http.get(server.url + CARD_PATH, headers={"If-None-Match": etag})
    # Spec §8.6 (S18): SHOULD send Cache-Control max-age and ETag. Both send an
    # ETag and answer a conditional request with 304; the SDK's card route sends
    # Cache-Control only when the deployment passes one (D12).
    assert again.status_code == 304
    if server.side == "accord":
        assert response.headers["cache-control"] == "public, max-age=300"
    else:
        assert "cache-control" not in response.headers


# --- D3: timestamp precision ----------------------------------------------------------------


async def test_accord_keeps_the_sdks_timestamps_to_the_millisecond(
    sdk_server: Served,
) -> None:
    async with accord_client(sdk_server.url, "HTTP+JSON") as client:
        task = await client.send_message("echo time")
        assert isinstance(task, Task)
        sdk_server.recorder.clear()
        got = await client.get_task(task.id)
        (exchange,) = sdk_server.recorder.exchanges
    sent = json.loads(bytes(exchange.response_body))["status"]["timestamp"]
    assert got.status.state is TaskState.COMPLETED
    assert got.status.timestamp is not None
    # The SDK prints microseconds (ProtoJSON allows 0/3/6/9 digits); Accord keeps
    # three digits (spec §5.6.1 SHOULD) and so cuts the rest (D3).
    seconds, nanos = instant(sent)
    assert instant(got.status.timestamp) == (seconds, nanos - nanos % 1_000_000)


# --- D9: reasons for errors A2A does not name -------------------------------------------


async def test_a_body_that_is_not_json(server: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            server.url + "/message:send",
            content=b'{"message":',
            headers={**V1, "content-type": "application/json"},
        )
    # Deliberately malformed: not a payload for the lossless check.
    server.recorder.clear()
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["status"] == "INVALID_ARGUMENT"
    # The spec names reasons for A2A's own errors only (§5.4); for a JSON parse
    # error Accord says PARSE_ERROR (JSON-RPC -32700's name), the SDK
    # INVALID_REQUEST. The SDK's client knows no PARSE_ERROR and reports a plain
    # HTTP 400; Accord's client reads either (D9).
    reason = error["details"][0]["reason"]
    assert reason == ("PARSE_ERROR" if server.side == "accord" else "INVALID_REQUEST")
