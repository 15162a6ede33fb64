"""Run an ASGI app under a real uvicorn on 127.0.0.1 (port 0) in a background thread.

``with serve_in_thread(app) as url:`` starts uvicorn in a daemon thread, waits until
it listens, yields ``http://127.0.0.1:<port>``, and on exit asks it to stop
(``should_exit``) and joins the thread, so lifespan shutdown has run (stores closed,
agent tasks ended) before the block returns. uvicorn's logging config is left alone
(``log_config=None``), so tests keep their own logging setup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["STARTUP_TIMEOUT", "serve_in_thread"]

#: Seconds to wait for the server to listen (lifespan startup included).
STARTUP_TIMEOUT = 10.0
#: Seconds to wait for the thread to finish after asking uvicorn to stop.
SHUTDOWN_TIMEOUT = 15.0


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
    server = uvicorn.Server(config)
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
            server.should_exit = True
            thread.join(SHUTDOWN_TIMEOUT)
            raise RuntimeError(f"uvicorn did not start: {failure!r}")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        scheme = "https" if options.get("ssl_certfile") else "http"
        yield f"{scheme}://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT)
        if thread.is_alive():  # pragma: no cover - a hung shutdown is a bug to see
            raise RuntimeError("uvicorn did not stop within the shutdown timeout")
