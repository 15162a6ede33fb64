"""A real webhook receiver for push tests: an ASGI app on loopback that records every
notification and answers as the test scripts it (status, Retry-After, redirect).

Thread-safe: it runs in its own uvicorn thread while the test waits on it with
:meth:`Receiver.wait_for` (a condition with a deadline, no sleeps).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from tests.helpers.uvicorn_thread import serve_in_thread

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Seconds a test waits for notifications before it fails.
DEADLINE = 20.0


@dataclass(frozen=True)
class Notification:
    """One request the receiver got, and what it answered."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int
    raw: bytes = b""

    @property
    def id(self) -> str:
        return self.headers.get("accord-notification-id", "")

    @property
    def seq(self) -> int:
        return int(self.id.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    #: Answer only once this is set (the request is recorded before).
    hold: threading.Event | None = None


class Receiver:
    """Records notifications; answers from a script, then 200."""

    def __init__(self) -> None:
        self.received: list[Notification] = []
        self._script: deque[Answer] = deque()
        self._always: Answer | None = None
        self._lock = threading.Condition()
        self.url = ""

    def script(self, *answers: Answer, always: Answer | None = None) -> None:
        """Answer the next requests with ``answers``, then ``always`` (default 200)."""
        with self._lock:
            self._script.extend(answers)
            self._always = always

    def wait_for(
        self, done: Callable[[list[Notification]], bool], what: str
    ) -> list[Notification]:
        """Wait until ``done(received)``; fail with ``what`` after the deadline."""
        with self._lock:
            if not self._lock.wait_for(lambda: done(self.received), DEADLINE):
                raise AssertionError(
                    f"timed out waiting for {what}; got {[n.id for n in self.received]}"
                )
            return list(self.received)

    def accepted(self) -> list[Notification]:
        with self._lock:
            return [n for n in self.received if 200 <= n.status < 300]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            answer = (
                self._script.popleft() if self._script else (self._always or Answer())
            )
            self.received.append(
                Notification(
                    path=scope["path"],
                    headers={
                        k.decode("latin-1"): v.decode("latin-1")
                        for k, v in scope["headers"]
                    },
                    body=json.loads(body) if body else None,
                    status=answer.status,
                    raw=body,
                )
            )
            self._lock.notify_all()
        if answer.hold is not None:
            await anyio.to_thread.run_sync(answer.hold.wait, abandon_on_cancel=True)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(k.encode(), v.encode()) for k, v in answer.headers],
            }
        )
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver served on 127.0.0.1; its :attr:`Receiver.url` is the webhook."""
    rec = Receiver()
    with serve_in_thread(rec) as base:
        rec.url = base + "/hook"
        yield rec


@contextmanager
def raw_server(respond: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that reads a request's head and lets ``respond``
    misbehave on the connection (trickle, close); yields its webhook URL."""
    listener = socket.create_server(("127.0.0.1", 0))

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(DEADLINE)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                respond(conn)
            except OSError:
                return  # the client went away: what these servers expect

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # shut down
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(DEADLINE)


def trickle(conn: socket.socket) -> None:
    """Answer 200 and then one byte of the body every 50 ms, for as long as read."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(int(DEADLINE / 0.05)):
        conn.sendall(b"x")
        time.sleep(0.05)  # the pace of the trickle, not an ordering


def hang_up(conn: socket.socket) -> None:
    """Close the connection without answering."""
    conn.shutdown(socket.SHUT_RDWR)
