"""Fuzzing both bindings through the real ASGI app, in-process: no input gets a 5xx.

Hypothesis builds hostile requests (methods, paths, query strings, Content-Type and
A2A-Version headers, bodies: random bytes, deep nesting, duplicate member names, huge
ids, envelopes with random params) and drives :class:`~accord.server.A2AApp` directly
through ASGI from a blocking portal. Every answer must have a status below 500, be a
spec-shaped error or a well-formed answer (JSON-RPC 2.0 response; AIP-193 error body
whose ``code`` equals the status, spec §11.6), keep errors small, and nothing may be
logged at ERROR. The default run is kept short; the slow variant runs many more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accord.protocol import OPERATIONS
from accord.server import A2AApp, Agent, TaskContext
from accord.types import MAX_JSON_DEPTH

SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Largest error body accepted: bounded messages and details, whatever was sent.
MAX_ERROR_BODY = 16 * 1024


async def _echo(ctx: TaskContext) -> None:
    await ctx.add_artifact(ctx.text or "(empty)")
    await ctx.complete()


def _agent() -> Agent:
    return Agent(_echo, name="Fuzz", description="Echoes", streaming=True)


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Harness:
    portal: anyio.from_thread.BlockingPortal
    app: A2AApp
    errors: _Errors

    def call(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Answer:
        return self.portal.call(self._drive, method, raw_path, query, headers, body)

    async def _drive(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Answer:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": raw_path.decode("latin-1"),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"fuzz.test"), *headers],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
        }
        done = anyio.Event()
        sent_body = False
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            messages.append(dict(message))
            if message["type"] == "http.response.body" and not message.get(
                "more_body", False
            ):
                done.set()

        with anyio.fail_after(10):
            await self.app(scope, receive, send)
        done.set()
        start = messages[0]
        assert start["type"] == "http.response.start"
        return Answer(
            start["status"],
            dict(start.get("headers", [])),
            b"".join(m.get("body", b"") for m in messages[1:]),
        )


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    errors = _Errors()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        with anyio.from_thread.start_blocking_portal() as portal:
            app = A2AApp(_agent())
            with portal.wrap_async_context_manager(app.running()):
                yield Harness(portal, app, errors)
    finally:
        root.removeHandler(errors)


# --- strategies -------------------------------------------------------------------------

_LATIN1 = st.characters(
    min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"
)
_header_text = st.text(_LATIN1, max_size=40)

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)

_METHODS = [o.name for o in OPERATIONS]
_ids = st.sampled_from(["t-1", "x", "a%2Fb", "%", "%zz", "%ff", "", "t:cancel"]) | (
    st.text(max_size=12).map(lambda s: s.encode().hex())
)

_REST_PATHS = [
    "/message:send",
    "/message:stream",
    "/tasks",
    "/tasks/{id}",
    "/tasks/{id}:cancel",
    "/tasks/{id}:subscribe",
    "/tasks/{id}/pushNotificationConfigs",
    "/tasks/{id}/pushNotificationConfigs/{id}",
    "/extendedAgentCard",
    "/",
    "//",
    "/.well-known/agent-card.json",
]


@st.composite
def _paths(draw: st.DrawFn) -> bytes:
    template = draw(st.sampled_from(_REST_PATHS))
    path = template.replace("{id}", draw(_ids))
    if draw(st.booleans()):
        path = "/" + draw(_ids) + path  # a tenant segment
    if draw(st.integers(0, 9)) == 0:
        path = "/" + draw(st.text(_LATIN1, max_size=30))
    return path.encode("latin-1")


def _nested(depth: int, open_: bytes, close: bytes) -> bytes:
    return open_ * depth + close * depth


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 7))
    method = draw(st.sampled_from(_METHODS) | st.text(max_size=12))
    rid: Any = draw(
        st.integers(-5, 5)
        | st.text(max_size=8)
        | st.none()
        | st.just("r" * 300)
        | st.just(10**200)
        | st.floats(allow_nan=False, allow_infinity=False)
    )
    params = draw(_json_values)
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        depth = draw(st.integers(MAX_JSON_DEPTH - 5, 5000))
        open_, close = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        inner = (
            _nested(depth, open_, close)
            if open_ == b"["
            else (open_ * depth + b"1" + close * depth)
        )
        return (
            b'{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":' + inner + b"}"
        )
    if kind == 2:
        key = draw(st.sampled_from(["method", "id", "params", "jsonrpc", "message"]))
        return (
            b'{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"},"'
            + key.encode()
            + b'":'
            + json.dumps(params).encode()
            + b"}"
        )
    message = {
        "messageId": draw(st.text(max_size=8)),
        "role": draw(st.sampled_from(["ROLE_USER", "ROLE_AGENT", 1, "x"])),
        "parts": draw(
            st.lists(
                st.fixed_dictionaries({"text": st.text(max_size=20)})
                | st.fixed_dictionaries({"data": _json_values}),
                max_size=3,
            )
        ),
    }
    if kind == 3:
        return json.dumps({"message": message, "metadata": params}).encode()
    if kind == 4:
        return json.dumps(params).encode()
    envelope: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if kind == 5:
        envelope["params"] = {"message": message, "metadata": params}
    elif kind == 6:
        envelope["params"] = params
    else:
        envelope["params"] = {"id": draw(_ids), "historyLength": params}
    return json.dumps(envelope).encode()


_content_types = st.sampled_from(
    [None, "application/json", "application/a2a+json", "text/plain", "", "json"]
) | _header_text.map(lambda s: s or None)
_versions = st.sampled_from(
    [None, "1.0", "01.00", "1.0.0", "", " ", "2.0", "0.3", "1.", "9" * 500]
) | _header_text.map(lambda s: s or None)


@st.composite
def _requests(
    draw: st.DrawFn,
) -> tuple[str, bytes, bytes, list[tuple[bytes, bytes]], bytes]:
    jsonrpc = draw(st.booleans())
    method = (
        "POST"
        if jsonrpc
        else draw(
            st.sampled_from(
                ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]
            )
            | st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                min_size=1,
                max_size=8,
            )
        )
    )
    path = b"/" if jsonrpc else draw(_paths())
    query = draw(
        st.sampled_from([b"", b"pageSize=" + b"9" * 5000, b"A2A-Version=1.0", b"%"])
        | st.text(_LATIN1, max_size=30).map(lambda s: s.encode("latin-1"))
    )
    headers: list[tuple[bytes, bytes]] = []
    for name, strategy in (
        (b"content-type", _content_types),
        (b"a2a-version", _versions),
        (b"a2a-extensions", st.none() | _header_text),
        (b"last-event-id", st.none() | _header_text),
    ):
        value = draw(strategy)
        if value is not None:
            headers.append((name, value.encode("latin-1")))
    return method, path, query, headers, draw(_bodies())


# --- the property -----------------------------------------------------------------------


def _check(
    harness: Harness,
    request: tuple[str, bytes, bytes, list[tuple[bytes, bytes]], bytes],
) -> None:
    method, path, query, headers, body = request
    before = len(harness.errors.records)
    answer = harness.call(method, path, query, headers, body)
    logged = harness.errors.records[before:]
    assert not logged, [r.getMessage() for r in logged]
    assert answer.status < 500, answer
    ctype = answer.headers.get(b"content-type", b"")
    if ctype.startswith(b"text/event-stream"):
        return  # a stream that started: events are checked by the streaming tests
    if answer.status in (204, 304):
        # No body by definition (RFC 9110 §15.3.5, §15.4.5): a CORS preflight's 204.
        assert not answer.body, answer
        return
    if method == "HEAD":  # the server drops a HEAD answer's body (ASGI leaves it to it)
        return
    value = json.loads(answer.body)
    jsonrpc = method == "POST" and path == b"/"
    if jsonrpc:
        assert value["jsonrpc"] == "2.0"
        assert ("result" in value) != ("error" in value)
        if "error" in value:
            _check_jsonrpc_error(value, answer)
    elif answer.status >= 400:
        error = value["error"]
        assert error["code"] == answer.status
        assert isinstance(error["status"], str)
        assert error["status"]
        assert isinstance(error["message"], str)
        assert error["message"]
        assert all("@type" in d for d in error["details"])
        assert len(answer.body) < MAX_ERROR_BODY


def _check_jsonrpc_error(value: dict[str, Any], answer: Answer) -> None:
    error = value["error"]
    assert isinstance(error["code"], int)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert all("@type" in d for d in error["data"])
    rid = value["id"]
    assert rid is None or isinstance(rid, str | int | float)
    assert len(answer.body) < MAX_ERROR_BODY


@settings(SETTINGS, max_examples=100)
@given(request=_requests())
# A CORS preflight of the card: 204 without a body (found by the long run).
@example(request=("OPTIONS", b"/.well-known/agent-card.json", b"", [], b""))
def test_no_request_gets_a_5xx(harness: Harness, request: Any) -> None:
    _check(harness, request)


@pytest.mark.slow
@pytest.mark.timeout(600)
@settings(SETTINGS, max_examples=1000)
@given(request=_requests())
def test_no_request_gets_a_5xx_long(harness: Harness, request: Any) -> None:
    _check(harness, request)
