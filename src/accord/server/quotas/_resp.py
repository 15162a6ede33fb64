"""A small Redis client on anyio: RESP2 commands over a bounded pool of connections.

Just what the quota backend needs (a script call, and ``AUTH``/``SELECT`` on connect),
on asyncio and trio alike. Every connection is made within ``connect_timeout``, every
command answered within ``timeout``; a connection that failed or timed out is closed,
never reused; replies are bounded in size and depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

if TYPE_CHECKING:
    from anyio.abc import SocketStream

__all__ = ["RedisAddress", "RespError", "RespPool", "RespUnavailable"]

#: Bytes of one reply line (a status, an error, a length) at most.
MAX_LINE = 64 * 1024
#: Bytes of one bulk string at most.
MAX_BULK = 1024 * 1024
#: Elements of one array, and nesting of arrays, at most.
MAX_ITEMS = 1024
MAX_DEPTH = 4


class RespError(Exception):
    """Redis answered with an error reply (the connection is still good)."""


class RespUnavailable(Exception):
    """Redis could not be reached, or did not answer in time."""


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """Where Redis is: ``redis://[[user]:password@]host[:port][/db]``."""

    host: str
    port: int = 6379
    db: int = 0
    username: str = ""
    password: str = ""

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """Read a ``redis://`` URL.

        Raises:
            ValueError: another scheme, or a URL that is not of that form.
        """
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError(
                f"{url!r} is not a redis:// URL (rediss:// and unix sockets are not "
                "supported: reach Redis over a trusted network, e.g. "
                "redis://127.0.0.1:6379/0)"
            )
        try:
            port = parts.port or 6379
            path = parts.path.strip("/")
            db = int(path) if path else 0
        except ValueError:
            raise ValueError(
                f"{url!r}: the port and the database are numbers (redis://host:6379/0)"
            ) from None
        if not parts.hostname:
            raise ValueError(f"{url!r} names no host (redis://127.0.0.1:6379/0)")
        return cls(
            host=parts.hostname,
            port=port,
            db=db,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )

    def __str__(self) -> str:
        # Never the password: this shows in logs.
        return f"redis://{self.host}:{self.port}/{self.db}"


def encode_command(args: tuple[bytes | str | int | float, ...]) -> bytes:
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: BufferedByteReceiveStream, depth: int = 0) -> Any:
    """One reply: str (status), int, bytes or None (bulk), list (array).

    Raises:
        RespError: an error reply.
        RespUnavailable: a reply that breaks the protocol or its bounds.
    """
    line = await reader.receive_until(b"\r\n", MAX_LINE)
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode(errors="replace")
    if kind == b"-":
        raise RespError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        if size > MAX_BULK:
            raise RespUnavailable(f"a reply of {size} bytes is over {MAX_BULK}")
        return (await reader.receive_exactly(size + 2))[:-2]
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        if count > MAX_ITEMS or depth >= MAX_DEPTH:
            raise RespUnavailable("a reply nested or long beyond the bounds")
        return [await read_reply(reader, depth + 1) for _ in range(count)]
    raise RespUnavailable(f"not a RESP reply: {line[:40]!r}")


class _Connection:
    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.reader = BufferedByteReceiveStream(stream)

    async def call(self, args: tuple[bytes | str | int | float, ...]) -> Any:
        await self.stream.send(encode_command(args))
        return await read_reply(self.reader)


class RespPool:
    """At most ``size`` connections to one Redis, made on demand and kept idle.

    Args:
        address: where Redis is.
        size: connections at most (callers beyond wait for one, within ``timeout``).
        connect_timeout: seconds to connect (and authenticate).
        timeout: seconds for a command, waiting for a connection included.
    """

    def __init__(
        self,
        address: RedisAddress,
        *,
        size: int = 8,
        connect_timeout: float = 0.5,
        timeout: float = 0.5,
    ) -> None:
        if size < 1:
            raise ValueError(f"a pool has at least one connection (got {size})")
        self.address = address
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._slots = anyio.Semaphore(size)
        self._idle: list[_Connection] = []
        self._closed = False

    async def call(self, *args: bytes | str | int | float) -> Any:
        """Send one command and return its reply.

        Raises:
            RespError: Redis answered with an error.
            RespUnavailable: no connection, or no answer within the timeouts.
        """
        try:
            with anyio.fail_after(self.timeout):
                async with self._slots:
                    connection = self._idle.pop() if self._idle else None
                    if connection is None:
                        connection = await self._connect()
                    try:
                        reply = await connection.call(args)
                    except RespError:
                        await self._keep(connection)
                        raise
                    except BaseException:
                        await _close(connection)
                        raise
                    await self._keep(connection)
                    return reply
        except TimeoutError:
            raise RespUnavailable(
                f"{self.address} did not answer within {self.timeout:g} s"
            ) from None
        except (OSError, anyio.EndOfStream, anyio.IncompleteRead) as exc:
            raise RespUnavailable(
                f"{self.address}: {exc or type(exc).__name__}"
            ) from exc
        except anyio.DelimiterNotFound:
            raise RespUnavailable(f"{self.address}: a reply line too long") from None
        except ValueError as exc:  # int() of a malformed length
            raise RespUnavailable(f"{self.address}: a malformed reply") from exc

    async def _keep(self, connection: _Connection) -> None:
        if self._closed:
            await _close(connection)
        else:
            self._idle.append(connection)

    async def _connect(self) -> _Connection:
        address = self.address
        with anyio.fail_after(self.connect_timeout):
            stream = await anyio.connect_tcp(address.host, address.port)
            connection = _Connection(stream)
            try:
                if address.password:
                    auth: tuple[str, ...] = (address.password,)
                    if address.username:
                        auth = (address.username, address.password)
                    await connection.call(("AUTH", *auth))
                if address.db:
                    await connection.call(("SELECT", address.db))
            except BaseException:
                await _close(connection)
                raise
        return connection

    async def aclose(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await _close(connection)


async def _close(connection: _Connection) -> None:
    with anyio.CancelScope(shield=True):
        await connection.stream.aclose()
