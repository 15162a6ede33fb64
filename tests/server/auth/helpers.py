"""Auth test helpers: a raw caller for both bindings, agents, and credentials.

:class:`Caller` sends one operation over one binding with chosen credentials and
returns everything that came back (status, headers, JSON body or SSE events) without
raising, so tests can compare refusals exactly.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import httpx

from accord.bindings import rest
from accord.protocol import op
from accord.server import Agent
from accord.types import (
    AgentCapabilities,
    AgentCard,
    APIKeySecurityScheme,
    HTTPAuthSecurityScheme,
    MutualTlsSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
    convert,
)
from tests.server.scripted import behave

BINDINGS = ("JSONRPC", "HTTP+JSON")
V1 = {"A2A-Version": "1.0"}


def api_key_scheme(location: str, name: str) -> SecurityScheme:
    return SecurityScheme(
        api_key_security_scheme=APIKeySecurityScheme(location=location, name=name)
    )


def bearer_scheme() -> SecurityScheme:
    return SecurityScheme(
        http_auth_security_scheme=HTTPAuthSecurityScheme(
            scheme="Bearer", bearer_format="JWT"
        )
    )


def mtls_scheme() -> SecurityScheme:
    return SecurityScheme(mtls_security_scheme=MutualTlsSecurityScheme())


def requirement(**schemes: Sequence[str]) -> SecurityRequirement:
    """``requirement(apiKey=[], oauth=["read"])``: schemes needed together."""
    return SecurityRequirement(
        schemes={
            name: StringList(list=tuple(scopes)) for name, scopes in schemes.items()
        }
    )


def guarded_agent(
    schemes: Mapping[str, SecurityScheme],
    requirements: Sequence[SecurityRequirement],
    *,
    extended: Any = None,
    declare_extended: bool | None = None,
) -> Agent:
    """The scripted test agent (first word picks the behaviour) with this security."""
    return Agent(
        behave,
        name="Guarded",
        description="Scripted agent behind authentication",
        security_schemes=schemes,
        security_requirements=requirements,
        extended_card=extended,
        declare_extended_card=declare_extended,
    )


def extended_card_for(principal: Any) -> AgentCard:
    """An extended card naming the caller (proves it is built per principal)."""
    return AgentCard(
        name=f"Guarded for {principal.id}",
        description=f"tenants={sorted(principal.tenants or [])}",
        version="1.0.0",
        capabilities=AgentCapabilities(extended_agent_card=True),
    )


def message(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "role": "ROLE_USER",
        "parts": [{"text": text}],
        **extra,
    }


@dataclass
class Answer:
    """What came back for one call."""

    status: int
    headers: httpx.Headers
    body: Any = None
    events: list[Any] | None = None
    binding: str = ""

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error if isinstance(error, dict) else None

    @property
    def reason(self) -> str:
        error = self.error or {}
        details = (
            error.get("data") if self.binding == "JSONRPC" else error.get("details")
        )
        for detail in details if isinstance(details, list) else []:
            if str(detail.get("@type", "")).endswith("ErrorInfo"):
                return str(detail.get("reason", ""))
        return ""

    @property
    def result(self) -> Any:
        assert self.error is None, self.body
        if self.events is not None:
            return self.events
        return self.body["result"] if self.binding == "JSONRPC" else self.body

    @property
    def challenges(self) -> list[str]:
        return self.headers.get_list("www-authenticate")

    def normalized(self, *task_ids: str) -> str:
        """The refusal with task ids and JSON-RPC ids blanked, for exact comparison."""
        body = dict(self.body) if isinstance(self.body, dict) else self.body
        if isinstance(body, dict):
            body.pop("id", None)
        text = json.dumps(body, sort_keys=True)
        for task_id in task_ids:
            text = text.replace(task_id, "<task>")
        headers = sorted(
            (k, v)
            for k, v in self.headers.items()
            if k not in ("date", "content-length", "server")
        )
        return f"{self.status} {headers} {text}"


@dataclass
class Caller:
    """One principal (its credentials) calling one binding of one server."""

    base: str
    binding: str
    http: httpx.Client
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    _id: int = 0

    def with_credentials(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Caller:
        return Caller(
            self.base, self.binding, self.http, dict(headers or {}), dict(params or {})
        )

    def _request(
        self, method: str, params: dict[str, Any], stream: bool
    ) -> httpx.Request:
        hdrs = {**V1, **self.headers}
        if stream:
            hdrs["Accept"] = "text/event-stream"
        if self.binding == "JSONRPC":
            self._id += 1
            body = {
                "jsonrpc": "2.0",
                "id": self._id,
                "method": method,
                "params": params,
            }
            return self.http.build_request(
                "POST", self.base + "/", json=body, headers=hdrs, params=self.params
            )
        operation = op(method)
        verb, path, query, payload = rest.build_request(
            operation, convert(params, operation.request_type)
        )
        return self.http.build_request(
            verb,
            self.base + path,
            params=[*query, *self.params.items()],
            content=payload,
            headers={**hdrs, "Content-Type": "application/a2a+json"},
        )

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> Answer:
        """Call ``method``; streaming operations read SSE events (up to ``limit``)."""
        params = params or {}
        stream = op(method).streaming
        request = self._request(method, params, stream)
        response = self.http.send(request, stream=True)
        with closing(response):
            ctype = response.headers.get("content-type", "")
            if not ctype.startswith("text/event-stream"):
                response.read()
                return Answer(
                    response.status_code,
                    response.headers,
                    response.json() if response.content else None,
                    binding=self.binding,
                )
            events: list[Any] = []
            data: list[str] = []
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    event = json.loads("\n".join(data))
                    if self.binding == "JSONRPC":
                        event = event.get("result", event)
                    events.append(event)
                    data = []
                    if limit is not None and len(events) >= limit:
                        break
            return Answer(
                response.status_code, response.headers, None, events, self.binding
            )


def task_of(answer: Answer) -> dict[str, Any]:
    """The task of a SendMessage answer."""
    result: dict[str, Any] = answer.result
    task: dict[str, Any] = result.get("task", result)
    return task


_TOKEN68 = re.compile(r"^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]* ")


def challenge_schemes(answer: Answer) -> list[str]:
    """The auth-scheme tokens of the WWW-Authenticate challenges."""
    return [c.split(" ", 1)[0] for c in answer.challenges if _TOKEN68.match(c)]
