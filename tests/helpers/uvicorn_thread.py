"""Run an ASGI app under a real uvicorn on 127.0.0.1 (port 0) in a background thread.

``with serve_in_thread(app) as url:`` starts uvicorn in a daemon thread, waits until
it listens, yields ``http://127.0.0.1:<port>``, and on exit asks it to stop
and joins the thread, so lifespan shutdown has run (stores closed, agent tasks ended)
before the block returns. The server is woken as soon as the block exits: stock uvicorn
polls for ``should_exit`` every 0.1 s and then sleeps 0.1 s more, which a suite starting
a server per test paid on every test. uvicorn's logging config is left alone
(``log_config=None``), so tests keep their own logging setup.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import uvicorn

__all__ = ["STARTUP_TIMEOUT", "serve_in_thread"]

#: Seconds to wait for the server to listen (lifespan startup included).
STARTUP_TIMEOUT = 10.0
#: Seconds to wait for the thread to finish after asking uvicorn to stop.
SHUTDOWN_TIMEOUT = 15.0


#: Seconds between checks that open connections have closed, while shutting down.
_POLL = 0.005


class _PromptServer(uvicorn.Server):
    """uvicorn that stops as soon as :meth:`stop` is called, from any thread."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()  # bound to the server's loop on first use

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    async def main_loop(self) -> None:
        await self.on_tick(0)  # the Date header
        if not self.should_exit:
            await self._stop.wait()

    def stop(self) -> None:
        """Ask the server to shut down (thread-safe; idempotent)."""
        self.should_exit = True
        if self._loop is not None:
            with suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._stop.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's own shutdown, polling every few milliseconds instead of 0.1 s.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while self.server_state.connections or self.server_state.tasks:  # noqa: ASYNC110 - uvicorn offers no event
                    await asyncio.sleep(_POLL)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="graceful shutdown timed out")
        await self.lifespan.shutdown()


@contextmanager
def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", **options: Any
) -> Iterator[str]:
    """Serve ``app`` on an ephemeral port of ``host``; yield its base URL.

    ``options`` go to ``uvicorn.Config`` (e.g. ``ssl_certfile=…`` serves https).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=0,
        lifespan="on",
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=2,
        **options,
    )
    server = _PromptServer(config)
    failure: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as exc:  # SystemExit when startup fails
            failure.append(exc)

    thread = threading.Thread(target=target, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.stop()
            thread.join(SHUTDOWN_TIMEOUT)
            raise RuntimeError(f"uvicorn did not start: {failure!r}")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        scheme = "https" if options.get("ssl_certfile") else "http"
        yield f"{scheme}://{host}:{port}"
    finally:
        server.stop()
        thread.join(SHUTDOWN_TIMEOUT)
        if thread.is_alive():  # pragma: no cover - a hung shutdown is a bug to see
            raise RuntimeError("uvicorn did not stop within the shutdown timeout")
