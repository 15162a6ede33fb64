"""Server test fixtures: a real uvicorn on 127.0.0.1 (port 0) in a thread, and a raw wire client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.bindings import rest
from accord.protocol import op
from accord.server import A2AApp
from accord.stores import SQLiteTaskStore
from accord.types import convert
from tests.helpers.uvicorn_thread import serve_in_thread

from .scripted import make_agent

#: Run an ASGI app under uvicorn on 127.0.0.1:0 in a thread; yields its base URL.
serve = serve_in_thread

V1 = {"A2A-Version": "1.0"}


class WireError(Exception):
    """An A2A error as it came over the wire."""

    def __init__(
        self, status: int, reason: str, code: int | None, message: str, body: Any
    ) -> None:
        super().__init__(f"{status} {reason} {code} {message}")
        self.status = status
        self.reason = reason
        self.code = code
        self.message = message
        self.body = body


def _reason(details: Any) -> str:
    for detail in details if isinstance(details, list) else []:
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
            return str(detail.get("reason", ""))
    return ""


class Wire:
    """Calls operations by name over one binding with raw HTTP; results are plain JSON."""

    def __init__(self, base: str, binding: str, http: httpx.Client) -> None:
        self.base = base
        self.binding = binding
        self.http = http
        self._id = 0

    def _jsonrpc_body(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        return {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}

    def request(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Request:
        """The HTTP request calling ``method`` on this binding."""
        hdrs = {**V1, **(headers or {})}
        if self.binding == "JSONRPC":
            body = self._jsonrpc_body(method, params)
            return self.http.build_request(
                "POST", self.base + "/", json=body, headers=hdrs
            )
        operation = op(method)
        verb, path, query, payload = rest.build_request(
            operation, convert(params, operation.request_type)
        )
        return self.http.build_request(
            verb,
            self.base + path,
            params=tuple(query),
            content=payload,
            headers={**hdrs, "Content-Type": "application/a2a+json"},
        )

    def error(self, response: httpx.Response) -> WireError:
        """The A2A error a (non-SSE) response carries."""
        body = response.json()
        err = body["error"]
        if self.binding == "JSONRPC":
            reason, code = _reason(err.get("data")), err["code"]
        else:
            reason, code = _reason(err.get("details")), None
        return WireError(response.status_code, reason, code, err["message"], body)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``method``; return the result JSON or raise :class:`WireError`."""
        r = self.http.send(self.request(method, params or {}))
        body = r.json()
        if (self.binding == "JSONRPC" and "error" in body) or r.status_code >= 400:
            raise self.error(r)
        return body["result"] if self.binding == "JSONRPC" else body

    def stream(
        self,
        method: str,
        params: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        limit: int | None = None,
        on_event: Callable[[str | None, Any], None] | None = None,
    ) -> list[tuple[str | None, Any]]:
        """Return the (id, payload) of each SSE event until the server closes (or ``limit``).

        ``on_event`` sees each event as it arrives: a test uses it to open a gate once
        a subscriber is known to be attached.
        """
        req = self.request(
            method, params, {"Accept": "text/event-stream", **(headers or {})}
        )
        events: list[tuple[str | None, Any]] = []
        r = self.http.send(req, stream=True)
        with closing(r):
            if not r.headers.get("content-type", "").startswith("text/event-stream"):
                r.read()
                raise self.error(r)
            event_id: str | None = None
            data: list[str] = []
            for line in r.iter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    payload_json = json.loads("\n".join(data))
                    if self.binding == "JSONRPC":
                        payload_json = payload_json.get("result", payload_json)
                    events.append((event_id, payload_json))
                    data = []
                    if on_event is not None:
                        on_event(event_id, payload_json)
                    if limit is not None and len(events) >= limit:
                        break
        return events


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db: Path = tmp_path_factory.mktemp("srv") / "tasks.db"
    app = A2AApp(make_agent(), store=SQLiteTaskStore(db))
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client per module: building one loads a CA bundle (tens of ms of CPU)."""
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def wire(request: pytest.FixtureRequest, server_url: str, http: httpx.Client) -> Wire:
    return Wire(server_url, str(request.param), http)


def user_message(text: str, **extra: Any) -> dict[str, Any]:
    import uuid

    return {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
        **extra,
    }
