"""Fixtures of the console tests: the Receptionist (signed card, held steps) and a
console, each under a real uvicorn on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from accord.console import ConsoleApp
from accord.security import JWK
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app
from tests.helpers.gates import GATE_TIMEOUT
from tests.helpers.uvicorn_thread import serve_in_thread

#: The key the test Receptionist signs its card with.
SIGNING_KEY = JWK.generate("ES256", kid="receptionist-test")


class Steps:
    """The Receptionist's pace: free-running, or one step per :meth:`release`.

    The agent runs on the server's thread and the test (or the browser driving it)
    on another, so the gate is a thread semaphore the agent waits on in a worker
    thread.
    """

    def __init__(self) -> None:
        self._free = threading.Event()
        self._free.set()
        self._steps = threading.Semaphore(0)

    def hold(self) -> None:
        """From now on each progress step waits for a :meth:`release`."""
        self._free.clear()

    def release(self, steps: int = 1) -> None:
        """Let ``steps`` more progress steps through."""
        self._steps.release(steps)

    def free(self) -> None:
        """Run freely again (and let a waiting step go)."""
        self._free.set()
        self._steps.release(100)

    async def __call__(self) -> None:
        if self._free.is_set():
            return
        # Polled (until a deadline) on the server's loop, so a canceled task stops at
        # once: a thread blocked on the semaphore could not be interrupted.
        deadline = anyio.current_time() + GATE_TIMEOUT
        acquired = self._steps.acquire(blocking=False)
        while not acquired and anyio.current_time() < deadline:
            await anyio.sleep(0.01)
            acquired = self._steps.acquire(blocking=False)
        assert acquired, "the test never released the step"


@pytest.fixture
def steps() -> Iterator[Steps]:
    gate = Steps()
    yield gate
    gate.free()


@pytest.fixture
def agent(tmp_path: Path, steps: Steps) -> Iterator[str]:
    """The Receptionist (API key required, card signed) on loopback; its base URL."""
    app = receptionist_app(tmp_path / "tasks.db", api_key=RECEPTIONIST_KEY, pace=steps)
    app.card_signer = SIGNING_KEY
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def console(agent: str) -> Iterator[str]:
    """A console offering the Receptionist; its base URL."""
    with serve_in_thread(ConsoleApp(agent_url=agent)) as url:
        yield url


def make_tasks(agent: str, count: int) -> None:
    """``count`` completed tasks of the test key's caller, made straight at the agent."""
    with httpx.Client(
        base_url=agent, headers={"X-API-Key": RECEPTIONIST_KEY}, timeout=30
    ) as http:
        for n in range(count):
            body = {
                "message": {
                    "messageId": f"m-{n}",
                    "role": "ROLE_USER",
                    "parts": [{"text": "Summary of call-1005"}],
                }
            }
            answer = http.post(
                "/message:send", json=body, headers={"A2A-Version": "1.0"}
            )
            assert answer.status_code == 200, answer.text
