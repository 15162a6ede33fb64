"""Receiving push notifications: check a webhook request, then hand its event on.

Theory of operation. An agent POSTs each event of a task to the webhook URL a client
registered (spec §4.3.3; the wire format is :mod:`accord.protocol.push`). Spec §5.3
and §13.2 ask the receiver to acknowledge with a 2xx, to check the request's
credentials (the token when one was given), to check that the task is one it expects,
and to process idempotently, since delivery is at least once. This module does those
checks in one place:

* :func:`verify` (no I/O) checks one request against a :class:`NotificationCheck`
  and returns the :class:`Notification`, or raises :class:`NotificationRefused`
  with the HTTP status to answer. Checks run cheapest and least revealing first:
  credentials (401), the signature (401), the request's shape (400), the task (404),
  so a caller without credentials learns nothing about the rest.
* :class:`WebhookApp` is an ASGI app around it: it reads the body up to a bound,
  verifies, drops duplicates by notification id, awaits your handler and answers.

Status codes. 401: a credential is missing or wrong, or the signature is missing,
bad, stale or meant for another receiver. 400: the body is not a ``StreamResponse``,
or the request has no notification id. 404: the task is not one this receiver expects
(not 403: the sender proved who it is, and nothing about it is forbidden; what it
names does not exist here). 405: not a POST. 413: the body is over the bound.
204: processed; 200: a duplicate of a notification already processed. 500: the
handler raised, so the agent retries later (the exception's text is logged, never
sent). Every non-2xx makes the agent try again (``server.push.delivery``), so a
refusal of a genuine notification costs retries until the agent dead-letters the
webhook: refusals are logged at INFO to make that visible.

Duplicates (spec §5.3 SHOULD). An id is remembered only once its handler returned, so
a notification whose handler failed is processed again when it is retried. The last
``seen`` ids are kept (a bounded LRU; the agent resends only what it has not had
acknowledged, which is recent). Concurrency: while a handler runs, its id is held.
A second delivery of the same id waits for the first's outcome instead of running the
handler beside it: a duplicate (200) if the first succeeded, else it runs the handler
itself, being the retry. So one id never has two handler calls at once, and no
delivery is answered before its notification has been processed.

The signature check (``keys``) needs the ``security`` extra (``cryptography``),
imported only when keys are given, so token-only receivers do without it.
"""

from __future__ import annotations

import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anyio

from accord.errors import ProtocolError, SecurityError
from accord.protocol.push import (
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNED_PUSH_EXTENSION,
    TOKEN_HEADER,
)
from accord.types import StreamResponse, decode

if TYPE_CHECKING:
    from accord.security import JWKSet
    from accord.types import AgentCard

__all__ = [
    "DEFAULT_MAX_AGE",
    "MAX_BODY_BYTES",
    "SEEN_IDS",
    "Handler",
    "Notification",
    "NotificationCheck",
    "NotificationRefused",
    "WebhookApp",
    "signing_keys_url",
    "task_id_of",
    "verify",
]

logger = logging.getLogger(__name__)

#: Seconds a signed notification stays acceptable: the value of
#: ``accord.security.push.DEFAULT_MAX_AGE`` (a test holds them equal), repeated here
#: so that this module imports without the security extra.
DEFAULT_MAX_AGE = 300.0
#: Largest body :class:`WebhookApp` reads. One event is one task snapshot at most;
#: agents put large content in files referenced by URL, and a receiver should not
#: buffer what an unauthenticated sender chooses.
MAX_BODY_BYTES = 1024 * 1024
#: Notification ids :class:`WebhookApp` remembers to drop duplicates. The agent resends
#: only what it has not seen acknowledged, in order per webhook, so a duplicate is
#: recent: 10,000 ids (about 1 MB) cover many busy tasks.
SEEN_IDS = 10_000

#: What :class:`WebhookApp` calls with each new notification.
Handler = Callable[["Notification"], Awaitable[None]]

_SIGNATURE = SIGNATURE_HEADER.lower()
_TOKEN = TOKEN_HEADER.lower()
_ID = NOTIFICATION_ID_HEADER.lower()


@dataclass(frozen=True, slots=True)
class NotificationCheck:
    """What a receiver checks on each notification (spec §5.3, §13.2).

    Attributes:
        token: the token given in the push config; the request's
            ``X-A2A-Notification-Token`` must equal it.
        authorization: the exact ``Authorization`` value expected (``"Bearer s3cr3t"``:
            the config's ``authentication`` scheme and credentials).
        keys: the agent's JWK Set (its card's signed-push extension names it); when
            given, every notification must carry a valid ``Accord-Signature``.
        audience: this receiver's URL exactly as the agent was given it; the signature
            must have been made for it, so a notification meant for another receiver
            cannot be replayed here. Required with ``keys``.
        max_age: seconds a signature stays acceptable after it was made (retries are
            signed again; only a replay is older).
        expected_task: says whether a task id is one this receiver expects (spec §5.3
            MUST); ``None`` accepts every task, leaving the check to the handler.

    Secrets are compared in constant time. A check with no credential at all accepts
    anyone who can reach the URL: fine on loopback while developing, not beyond.

    Raises:
        ValueError: ``keys`` without ``audience`` (or the reverse), an empty
            credential, or a ``max_age`` that is not positive.
    """

    token: str | None = None
    authorization: str | None = None
    keys: JWKSet | None = field(default=None, repr=False)
    audience: str | None = None
    max_age: float = DEFAULT_MAX_AGE
    expected_task: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if self.token == "" or self.authorization == "":
            raise ValueError("an empty token or authorization would match nothing")
        if (self.keys is None) != (self.audience is None):
            raise ValueError(
                "keys and audience go together: a signature is checked against the "
                "URL it was made for"
            )
        if not self.max_age > 0:
            raise ValueError(f"max_age must be > 0 (got {self.max_age})")

    def __repr__(self) -> str:
        # The secrets stay out of logs and tracebacks.
        return (
            f"NotificationCheck(token={'***' if self.token else None}, "
            f"authorization={'***' if self.authorization else None}, "
            f"signed={self.keys is not None}, audience={self.audience!r})"
        )


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification that passed its checks.

    Attributes:
        id: its ``Accord-Notification-Id``, the same on every delivery attempt.
        task_id: the task the event belongs to.
        event: the event, as a stream would carry it.
        signed_by: the ``kid`` of the key that signed it, when signatures are checked.
        headers: the request's headers (lower-case names), without the credentials
            that were checked (a handler that logs them leaks no secret).
    """

    id: str
    task_id: str
    event: StreamResponse
    signed_by: str | None = None
    headers: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )


class NotificationRefused(Exception):
    """Raised when a webhook request fails a check; answer it with :attr:`status`.

    Attributes:
        status: 401 (credentials or signature), 400 (not a notification), 404
            (unexpected task); :class:`WebhookApp` also uses 405 and 413.
        reason: what failed, short enough for a plain-text answer (no secret in it).
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def task_id_of(event: StreamResponse) -> str:
    """The id of the task ``event`` belongs to (``""`` for a message outside a task)."""
    if event.task is not None:
        return event.task.id
    if event.status_update is not None:
        return event.status_update.task_id
    if event.artifact_update is not None:
        return event.artifact_update.task_id
    assert event.message is not None  # StreamResponse holds exactly one member
    return event.message.task_id


def signing_keys_url(card: AgentCard) -> str | None:
    """The JWK Set URL of an agent that signs its push notifications, from its card
    (the :data:`~accord.protocol.push.SIGNED_PUSH_EXTENSION` in
    ``capabilities.extensions``, ``params.jwksUrl``); ``None`` when it does not sign.

    Raises:
        ValueError: the extension is declared without a ``jwksUrl`` string.
    """
    for extension in card.capabilities.extensions:
        if extension.uri != SIGNED_PUSH_EXTENSION:
            continue
        url = (extension.params or {}).get("jwksUrl")
        if not isinstance(url, str) or not url:
            raise ValueError(
                f"the card declares {SIGNED_PUSH_EXTENSION} without params.jwksUrl"
            )
        return url
    return None


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _same(given: str | None, expected: str) -> bool:
    """Constant-time comparison (of UTF-8 bytes: compare_digest takes ASCII str only)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _check_credentials(check: NotificationCheck, headers: Mapping[str, str]) -> None:
    """The token and ``Authorization`` checks (``headers`` with lower-case names)."""
    if check.token is not None:
        given = headers.get(_TOKEN)
        if not given:
            raise NotificationRefused(401, f"missing {TOKEN_HEADER}")
        if not _same(given, check.token):
            raise NotificationRefused(401, f"wrong {TOKEN_HEADER}")
    if check.authorization is not None:
        given = headers.get("authorization")
        if not given:
            raise NotificationRefused(401, "missing Authorization")
        if not _same(given, check.authorization):
            raise NotificationRefused(401, "wrong Authorization")


def _check_signature(
    check: NotificationCheck,
    headers: Mapping[str, str],
    body: bytes,
    notification_id: str,
    now: float | None,
) -> str | None:
    """The ``kid`` that signed ``body``, when signatures are checked."""
    if check.keys is None:
        return None
    signature = headers.get(_SIGNATURE)
    if not signature:
        raise NotificationRefused(401, f"missing {SIGNATURE_HEADER}")
    from accord.security.push import verify_notification

    try:
        signed = verify_notification(
            signature,
            body,
            check.keys,
            audience=check.audience,
            # Absent, the id is refused (400) once the signature is known good.
            notification_id=notification_id or None,
            max_age=check.max_age,
            now=now,
        )
    except SecurityError as exc:
        raise NotificationRefused(401, f"bad {SIGNATURE_HEADER}: {exc}") from None
    return signed.key.kid


def verify(
    check: NotificationCheck,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> Notification:
    """Check one webhook request; return its notification.

    ``headers`` may use any case in their names (an ``httpx.Headers`` or a plain
    dict); ``now`` (seconds since the epoch) replaces the clock for the signature's
    age.

    Raises:
        NotificationRefused: a check failed; its ``status`` is the answer to give
            (see the module docstring for which check gives which status).
    """
    lowered = _lower(headers)
    _check_credentials(check, lowered)
    notification_id = lowered.get(_ID, "").strip()
    signed_by = _check_signature(check, lowered, body, notification_id, now)
    if not notification_id:
        raise NotificationRefused(400, f"missing {NOTIFICATION_ID_HEADER}")
    try:
        event = decode(body, StreamResponse, strict=True)
    except (ProtocolError, ValueError) as exc:
        detail = exc.message if isinstance(exc, ProtocolError) else str(exc)
        raise NotificationRefused(
            400, f"the body is not a StreamResponse: {detail}"
        ) from None
    task_id = task_id_of(event)
    if not task_id:
        raise NotificationRefused(400, "the event names no task")
    if check.expected_task is not None and not check.expected_task(task_id):
        raise NotificationRefused(404, "not a task this receiver expects")
    checked = {_TOKEN} if check.token is not None else set()
    if check.authorization is not None:
        checked.add("authorization")
    return Notification(
        id=notification_id,
        task_id=task_id,
        event=event,
        signed_by=signed_by,
        headers=MappingProxyType(
            {k: v for k, v in lowered.items() if k not in checked}
        ),
    )


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _TooLarge(Exception):
    """The request body is over the bound."""


class WebhookApp:
    """An ASGI app that receives push notifications and awaits ``handler`` once for
    each (see the module docstring for the answers and the duplicate rules).

    Any path is accepted: mount the app where the webhook URL points. Serve it with
    any ASGI server; its state (the ids seen) lives in this object, so run one
    process per webhook URL or accept that a duplicate may reach another process.
    :attr:`check` may be replaced while serving (e.g. once the port, and so the
    signatures' audience, is known).

    Example::

        async def handle(notification: Notification) -> None:
            print(notification.task_id, notification.event)

        app = WebhookApp(handle, NotificationCheck(token="s3cr3t"))
        uvicorn.run(app, port=9000)

    Raises:
        ValueError: ``seen`` or ``max_body_bytes`` below 1.
    """

    def __init__(
        self,
        handler: Handler,
        check: NotificationCheck,
        *,
        seen: int = SEEN_IDS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if seen < 1 or max_body_bytes < 1:
            raise ValueError("seen and max_body_bytes must be >= 1")
        self.handler = handler
        self.check = check
        self.seen = seen
        self.max_body_bytes = max_body_bytes
        self._done: OrderedDict[str, None] = OrderedDict()
        self._running: dict[str, anyio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: refused by returning without accepting
        if scope["method"] != "POST":
            await _answer(send, 405, "only POST is accepted", [(b"allow", b"POST")])
            return
        headers = _headers(scope)
        try:
            # Credentials before the body: no stranger makes us buffer a megabyte.
            _check_credentials(self.check, headers)
            body = await self._read(receive, headers)
            if body is None:
                return  # the client went away
            notification = verify(self.check, headers, body)
        except NotificationRefused as refused:
            logger.info(
                "refused a push notification (%d): %s", refused.status, refused.reason
            )
            await _answer(
                send, refused.status, refused.reason, self._challenge(refused)
            )
            return
        except _TooLarge:
            await _answer(send, 413, f"the body is over {self.max_body_bytes} bytes")
            return
        status = await self._process(notification)
        if status == 500:
            await _answer(send, 500, "the notification could not be processed")
        else:
            await _answer(send, status, "")

    def _challenge(self, refused: NotificationRefused) -> list[tuple[bytes, bytes]]:
        """RFC 9110 §11.6.1: a 401 names the scheme it wants."""
        if refused.status != 401 or self.check.authorization is None:
            return []
        scheme = self.check.authorization.split(" ", 1)[0]
        return [(b"www-authenticate", scheme.encode("latin-1", "replace"))]

    async def _read(self, receive: Receive, headers: Mapping[str, str]) -> bytes | None:
        """The body, at most :attr:`max_body_bytes`; ``None`` if the client left."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _process(self, notification: Notification) -> int:
        """Run the handler once per id: 204 done, 200 a duplicate, 500 it failed."""
        nid = notification.id
        while True:
            if nid in self._done:
                self._done.move_to_end(nid)
                return 200
            running = self._running.get(nid)
            if running is None:
                break
            await running.wait()  # the first delivery's outcome decides
        finished = anyio.Event()
        self._running[nid] = finished
        try:
            await self.handler(notification)
        except Exception:
            logger.exception("the webhook handler failed on notification %s", nid)
            return 500
        else:
            self._done[nid] = None
            if len(self._done) > self.seen:
                self._done.popitem(last=False)
            return 204
        finally:
            del self._running[nid]
            finished.set()


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers; a repeated one is joined with ``, `` (RFC 9110 §5.3),
    which never equals a single expected credential."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _answer(
    send: Send,
    status: int,
    text: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = (text + "\n").encode() if text else b""
    fields = list(headers or [])
    if body:
        fields.append((b"content-type", b"text/plain; charset=utf-8"))
    fields.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: acknowledge both."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
