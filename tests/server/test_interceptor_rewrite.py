"""The ``rewrite`` hook of interceptors: the operation runs with the rewritten request,
rewrites chain in order, ``CallInfo.request`` stays as received, and a rewrite that
raises refuses the call like ``before`` does (the ``after`` hooks still run)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.errors import PermissionDeniedError
from accord.server import A2AApp, Agent, CallInfo, Interceptor, Outcome, TaskContext
from accord.types import Message, Part, Role, Task, replace, text_of

pytestmark = pytest.mark.anyio


class Suffix(Interceptor):
    """Appends its word to the text of every message; refuses the text ``forbidden``."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.seen: list[str] = []
        self.ended: list[bool] = []

    def rewrite(self, call: CallInfo, request: Any) -> Any:
        if call.operation.name != "SendMessage":
            return request
        self.seen.append(text_of(call.request.message))
        if text_of(request.message) == "forbidden":
            raise PermissionDeniedError("not this text")
        text = f"{text_of(request.message)} {self.word}"
        message = replace(request.message, parts=(Part(text=text),))
        return replace(request, message=message)

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        self.ended.append(outcome.ok)


async def echo(ctx: TaskContext) -> None:
    await ctx.complete(ctx.text)


async def test_rewrites_chain_and_the_call_keeps_what_was_received() -> None:
    first, second = Suffix("one"), Suffix("two")
    app = A2AApp(
        Agent(echo, name="Echo", description="x"), interceptors=[first, second]
    )
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app), base_url="http://a") as http,
        await Client.connect("http://a", http=http) as client,
    ):
        task = await client.send_message(
            Message(message_id="m-1", role=Role.USER, parts=(Part(text="hi"),))
        )
        assert isinstance(task, Task)
        assert text_of(task) == "hi one two"
        assert first.seen == second.seen == ["hi"]  # CallInfo.request: as received
        with pytest.raises(PermissionDeniedError, match="not this text"):
            await client.send_message("forbidden")
    assert first.ended == [True, False]
    assert second.ended == [True, False]
