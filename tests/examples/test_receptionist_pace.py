"""The Receptionist's progress is paced so that a streaming caller sees it live."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.demo.receptionist import (
    DEFAULT_PACE,
    PACE_ENV,
    Receptionist,
    pace_from_env,
)
from accord.types import TaskState
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app

PACE = 0.05


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    app = receptionist_app(tmp_path / "accord.db", api_key=RECEPTIONIST_KEY, pace=PACE)
    async with (
        httpx.AsyncClient(transport=MemoryTransport(app), base_url="http://a") as http,
        await Client.connect(
            "http://a", http=http, headers={"X-API-Key": RECEPTIONIST_KEY}
        ) as connected,
    ):
        yield connected


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("request_text", "first"),
    [
        ("Schedule a callback to +14155550123 on 2026-12-01 14:00-15:00", "Checking"),
        ("Summary of call-1002", "Looking up call-1002"),
        ("Escalate call-1003 to a human: billing dispute", "Looking up call-1003"),
    ],
)
async def test_every_skill_streams_several_paced_updates(
    client: Client, request_text: str, first: str
) -> None:
    working: list[tuple[float, str]] = []
    async with client.send_streaming_message(request_text) as stream:
        async for event in stream:
            update = event.status_update
            if update is None:
                continue
            if update.status.state is TaskState.WORKING:
                assert update.status.message is not None
                working.append((time.monotonic(), update.status.message.text))
            else:
                assert update.status.state is TaskState.COMPLETED
                done = time.monotonic()
    assert len(working) >= 3
    assert working[0][1].startswith(first)
    assert len({text for _, text in working}) == len(working)  # each says something new
    # Each step takes the pace: the updates are spread out, not sent in one burst.
    assert done - working[0][0] >= len(working) * PACE * 0.9


def test_the_default_pace_spreads_a_request_over_one_to_two_seconds() -> None:
    assert pace_from_env({}) == DEFAULT_PACE
    assert 1.0 <= 3 * DEFAULT_PACE <= 2.0


def test_the_pace_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pace_from_env({PACE_ENV: "0"}) == 0
    assert pace_from_env({PACE_ENV: " 1.25 "}) == 1.25
    monkeypatch.setenv(PACE_ENV, "0.2")
    assert Receptionist(":memory:").pace == 0.2
    assert Receptionist(":memory:", pace=0).pace == 0  # the argument wins
    monkeypatch.delenv(PACE_ENV)
    assert Receptionist(":memory:").pace == DEFAULT_PACE


@pytest.mark.parametrize("value", ["fast", "-1", "nan", "inf"])
def test_a_bad_pace_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=f"{PACE_ENV}=.* use e.g. 0.5, or 0"):
        pace_from_env({PACE_ENV: value})


def test_a_negative_pace_argument_is_refused() -> None:
    with pytest.raises(ValueError, match="pace must be a number of seconds >= 0"):
        Receptionist(":memory:", pace=-0.1)
