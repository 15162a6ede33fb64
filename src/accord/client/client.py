"""``Client``: one async method per A2A operation, streams as async iterators.

Theory of operation.

*Choosing where to talk* (spec §8.3.2, MUST). :meth:`Client.connect` fetches the agent
card (:class:`~accord.client.CardResolver`) and keeps every ``supportedInterfaces``
entry whose binding (JSON-RPC or HTTP+JSON) and protocol version (1.0) this client
supports, in the card's order or in :attr:`ClientConfig.preferred_bindings` order. The
first is used; the others are fallbacks: when an interface cannot be *connected to*
(:class:`~accord.errors.ConnectError`), the same request goes to the next one and,
once one works, later calls start there (spec §5.2 SHOULD; see
:mod:`accord.client._router`). Only connection failures fall back: after a timeout or
an error answer the request may have reached the agent, and resending a
``SendMessage`` could run it twice.

*Tenant* (spec §10, MUST). The selected interface's ``tenant`` is copied into every
request message; an interface without one sends none.

*Errors.* Errors the agent reports are raised as the same
:class:`~accord.errors.ProtocolError` subclasses the server raised
(``TaskNotFoundError``…); failures below A2A are
:class:`~accord.errors.TransportError` subclasses with one-line, actionable messages.

*Credentials* (spec §7). ``credentials=`` takes providers
(:mod:`accord.client.credentials`): the client reads the card's security requirements,
chooses the first alternative the providers fully satisfy (or raises
:class:`~accord.errors.UnauthenticatedError` listing what the card asks for, before
sending anything) and applies those credentials to every request of every transport,
the extended card included; an OAuth 2.0 token is renewed and the request retried once
after a 401. A client certificate and :attr:`ClientConfig.ca_bundle` configure the TLS
of the httpx client the client creates (a borrowed one keeps its own TLS settings).

*Pinning.* ``Client.connect(url, pin="sha256:...")`` refuses a card whose
:func:`~accord.security.card_pin` differs (:class:`~accord.errors.CardDriftError`),
before anything is sent to the agent: the card's content changed since it was pinned
(``accord card pin URL`` prints a pin; ``accord card diff`` shows what changed). The
pin leaves out ``signatures``, so a card re-signed with a rotated key still matches.
It applies to the public card ``connect`` fetches, not to the extended card.

*Discovery.* :meth:`Client.discover` searches a registry (ARD ``POST /search``,
:mod:`accord.client.discovery`); each result's ``agent_url`` and ``pin`` go to
:meth:`Client.connect`, so the card connected to is the one the registry recorded.

*Resources.* The client is an async context manager. It owns the httpx client it
creates (none is created when one is passed in) and the transports it builds. Streaming
methods return an :class:`~accord.client.stream.EventStream` that reads in the caller's
task; nothing runs in the background.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

import anyio

from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AuthenticationInfo,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    MessageContent,
    SendMessageConfiguration,
    SendMessageRequest,
    SendMessageResponse,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
    format_timestamp,
)

from ._calls import Calls
from ._router import Route, Router
from ._setup import _borrowed, _check_pin, _message, _router
from .card import CardResolver, suitable_interfaces
from .config import ClientConfig
from .credentials import http_client, select_credentials
from .credentials._selection import certificate_of
from .discovery import discover
from .hooks import activating

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType

    import httpx

    from accord.security import TrustStore

    from .credentials import Credentials
    from .stream import EventStream
    from .transports.base import Transport

__all__ = ["Client"]


class Client(Calls):
    """An A2A client bound to one agent.

    Args:
        card: the agent's card; the interface is chosen from it (spec §8.3.2).
        config: bindings, timeouts, headers.
        http: an httpx client to send with (borrowed, never closed); ``None`` creates
            one that the client owns.
        headers: extra headers for every request (merged over ``config.headers``).
        credentials: providers to authenticate with (a list in order of preference,
            or a mapping from scheme name); ``None`` sends none and checks nothing.

    Raises:
        CardError: the card offers no interface this client can use.
        UnauthenticatedError: the card requires credentials that ``credentials``
            cannot satisfy (nothing is sent).

    Example::

        async with await Client.connect("https://agent.example") as client:
            reply = await client.send_message("hello")
    """

    def __init__(
        self,
        card: AgentCard,
        *,
        config: ClientConfig | None = None,
        http: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        config = config if config is not None else ClientConfig()
        _borrowed(http, credentials)
        self._setup(card, _router(card, config, http, headers, credentials), config)

    def _setup(
        self, card: AgentCard | None, router: Router, config: ClientConfig
    ) -> None:
        self._card = card
        #: The card last hashed for the audit trail, and its hash.
        self._card_hash: tuple[AgentCard | None, str] = (None, "")
        self._router = router
        self._config = config

    @classmethod
    def from_interface(
        cls,
        interface: AgentInterface,
        *,
        config: ClientConfig | None = None,
        http: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        credentials: Credentials | None = None,
    ) -> Self:
        """A client for a known interface, without fetching a card.

        Without a card there are no requirements to choose from: every provider in
        ``credentials`` is sent as it is.

        Raises:
            CardError: the interface's binding or protocol version is not supported.
            ValueError: a provider needs a card to say where it goes (``ApiKey``).
        """
        config = config if config is not None else ClientConfig()
        _borrowed(http, credentials)
        # The same MUSTs apply to a hand-picked interface (spec §8.3.2).
        probe = AgentCard(
            name=interface.url,
            supported_interfaces=(interface,),
            capabilities=AgentCapabilities(),
        )
        interfaces = suitable_interfaces(
            probe, config.preferred_bindings, config.bindings
        )
        selected = select_credentials(None, credentials) if credentials else None
        client = cls.__new__(cls)
        client._setup(
            None,
            Router.for_interfaces(interfaces, config, http, headers, selected),
            config,
        )
        return client

    @classmethod
    def from_transport(
        cls, transport: Transport, *, interface: AgentInterface | None = None
    ) -> Self:
        """A client over any :class:`~accord.client.Transport` (e.g. a custom one).

        The client closes ``transport`` when it is closed. The ``tenant`` of
        ``interface``, if given, is copied into every request (spec §10).
        """
        client = cls.__new__(cls)
        client._setup(None, Router([Route(interface, transport)]), ClientConfig())
        return client

    #: Search a registry for agents (:func:`accord.client.discovery.discover`):
    #: ``await Client.discover(registry_url, "schedule a callback", skill=...)``
    #: returns :class:`~accord.client.discovery.Discovered` agents, best first; give
    #: one's ``agent_url`` and ``pin`` to :meth:`connect`.
    discover = staticmethod(discover)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        config: ClientConfig | None = None,
        http: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        resolver: CardResolver | None = None,
        credentials: Credentials | None = None,
        trust: TrustStore | None = None,
        pin: str | None = None,
    ) -> Self:
        """Fetch the agent card at ``url`` and return a client for it.

        Args:
            url: the agent's base URL (its card is at
                ``<url>/.well-known/agent-card.json``) or the card's own URL.
            config: bindings, timeouts, headers, card cache fallback, CA bundle.
            http: an httpx client to send with (borrowed); ``None`` creates one.
            headers: extra headers for every request, the card fetch included.
            resolver: a shared :class:`CardResolver`, to reuse its cache.
            credentials: providers to authenticate with, chosen against the card's
                security requirements (a list in order of preference, or a mapping
                from scheme name). The public card is fetched without them.
            trust: require a card signature that verifies with these keys (spec
                §8.4), checked before anything is sent to the agent; for a shared
                ``resolver``, give it the trust store instead.
            pin: the card's expected :func:`~accord.security.card_pin`
                (``sha256:...``, as ``accord card pin URL`` prints): a card whose
                content differs is refused before anything is sent to the agent.

        Raises:
            CardError: the card is missing or invalid, or offers no usable interface.
            CardDriftError: with ``pin``, the card's content changed (a
                ``CardError``; it carries both pins).
            SecurityError: with ``trust``, the card's signature did not verify
                (``SignatureError``, ``UnknownKeyError``, ``KeyExpiredError``,
                ``AlgorithmError``).
            ValueError: both ``trust`` and ``resolver`` are given, or ``pin`` is
                not a pin.
            TransportError: the card could not be fetched (e.g. ``ConnectError``).
            UnauthenticatedError: the card requires credentials that ``credentials``
                cannot satisfy (nothing is sent to the agent's interfaces).
        """
        config = config if config is not None else ClientConfig()
        _borrowed(http, credentials)
        if trust is not None and resolver is not None:
            raise ValueError("pass trust to the CardResolver you share, not here")
        if pin is not None:
            from accord.security.pins import parse_pin

            pin = parse_pin(pin)
        owned = (
            http_client(config, certificate_of(credentials)) if http is None else None
        )
        client_http = http if http is not None else owned
        assert client_http is not None
        try:
            if resolver is None:
                resolver = CardResolver(
                    client_http,
                    default_max_age=config.card_max_age,
                    timeouts=config.timeouts,
                    headers={**config.headers, **(headers or {})},
                    trust=trust,
                )
            card = await resolver.get(url)
            if pin is not None:
                _check_pin(url, card, pin)
            client = cls.__new__(cls)
            client._setup(
                card, _router(card, config, client_http, headers, credentials), config
            )
        except BaseException:
            if owned is not None:
                with anyio.CancelScope(shield=True):
                    await owned.aclose()
            raise
        client._router.owned_http = owned
        return client

    # --- resources -------------------------------------------------------------

    @property
    def card(self) -> AgentCard | None:
        """The agent card in use (the extended card once fetched), if known."""
        return self._card

    @property
    def interface(self) -> AgentInterface | None:
        """The interface requests go to first (it changes after a fallback)."""
        return self._router.interface

    def __repr__(self) -> str:
        where = self.interface.url if self.interface is not None else "transport"
        return f"<Client {where}>"

    async def aclose(self) -> None:
        """Close the transports and the httpx client the client created."""
        await self._router.aclose()

    async def __aenter__(self) -> Self:
        """Return the client itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.aclose()

    # --- operations ------------------------------------------------------------

    async def send_message(
        self,
        message: Message | MessageContent | Sequence[MessageContent],
        *,
        context_id: str | None = None,
        task_id: str | None = None,
        configuration: SendMessageConfiguration | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Task | Message:
        """Send a message (SendMessage, spec §3.1.1); return the Task or Message reply.

        ``message`` is a :class:`Message`, or its content: a ``str`` (a text part), a
        ``dict`` (a data part), a :class:`Part` (e.g. from
        :func:`~accord.types.file_part`), or a list of those (one part each), made
        into a user message with a fresh ``messageId``
        (:func:`~accord.types.user_message`). ``context_id`` / ``task_id`` continue
        a conversation or task. Read the reply with :func:`~accord.types.text_of`,
        :func:`~accord.types.data_of`, :func:`~accord.types.files_of`.
        By default the call blocks until the task is terminal or interrupted; pass
        ``SendMessageConfiguration(return_immediately=True)`` not to wait.

        Raises:
            ProtocolError: e.g. ``TaskNotFoundError``, ``UnsupportedOperationError``.
            TransportError: the agent could not be reached or did not answer in time.
        """
        request = SendMessageRequest(
            message=_message(message, context_id, task_id),
            configuration=configuration,
            metadata=metadata,
        )
        if request.message.extensions:  # the message's extensions, activated (§4.6)
            with activating(*request.message.extensions):
                response: SendMessageResponse = await self._call("SendMessage", request)
        else:
            response = await self._call("SendMessage", request)
        if response.task is not None:
            return response.task
        assert response.message is not None  # exactly one is set (oneof)
        return response.message

    def send_streaming_message(
        self,
        message: Message | MessageContent | Sequence[MessageContent],
        *,
        context_id: str | None = None,
        task_id: str | None = None,
        configuration: SendMessageConfiguration | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> EventStream:
        """Send a message and stream the reply (SendStreamingMessage, spec §3.1.2).

        Arguments as :meth:`send_message`. The stream yields one ``message`` event,
        or a ``task`` event followed by status and artifact updates until the task is
        terminal or interrupted (spec §3.1.2, §3.1.6). The request is sent when the first
        event is awaited; errors surface there.
        """
        request = SendMessageRequest(
            message=_message(message, context_id, task_id),
            configuration=configuration,
            metadata=metadata,
        )
        return self._stream(
            "SendStreamingMessage", request, activate=request.message.extensions
        )

    async def get_task(self, id: str, *, history_length: int | None = None) -> Task:
        """Return a task's current state (GetTask, spec §3.1.3).

        Raises:
            TaskNotFoundError: unknown, or not visible to the caller.
        """
        request = GetTaskRequest(id=id, history_length=history_length)
        task: Task = await self._call("GetTask", request)
        return task

    async def list_tasks(
        self,
        *,
        context_id: str | None = None,
        status: TaskState | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        history_length: int | None = None,
        status_timestamp_after: datetime | str | None = None,
        include_artifacts: bool | None = None,
    ) -> ListTasksResponse:
        """Return one page of the caller's tasks, newest first (ListTasks, §3.1.4).

        Pass ``response.next_page_token`` as ``page_token`` for the next page; it is
        ``""`` on the last one.
        """
        if isinstance(status_timestamp_after, datetime):
            status_timestamp_after = format_timestamp(status_timestamp_after)
        request = ListTasksRequest(
            context_id=context_id or "",
            status=status if status is not None else TaskState.UNSPECIFIED,
            page_size=page_size,
            page_token=page_token or "",
            history_length=history_length,
            status_timestamp_after=status_timestamp_after,
            include_artifacts=include_artifacts,
        )
        response: ListTasksResponse = await self._call("ListTasks", request)
        return response

    async def cancel_task(
        self, id: str, *, metadata: dict[str, Any] | None = None
    ) -> Task:
        """Ask the agent to cancel a task (CancelTask, spec §3.1.5).

        Raises:
            TaskNotCancelableError: the task is already terminal.
            TaskNotFoundError: unknown, or not visible to the caller.
        """
        task: Task = await self._call(
            "CancelTask", CancelTaskRequest(id=id, metadata=metadata)
        )
        return task

    def subscribe(self, id: str, *, last_event_id: str | None = None) -> EventStream:
        """Stream a task's events (SubscribeToTask, spec §3.1.6).

        The first event is a ``task`` snapshot; the stream ends when the task is
        terminal. Read :attr:`EventStream.last_event_id` after each event and pass it
        back as ``last_event_id`` to resume after a dropped connection.
        """
        return self._stream(
            "SubscribeToTask", SubscribeToTaskRequest(id=id), last_event_id
        )

    async def create_push_config(
        self,
        task_id: str,
        url: str,
        *,
        id: str | None = None,
        token: str | None = None,
        authentication: AuthenticationInfo | None = None,
    ) -> TaskPushNotificationConfig:
        """Register a webhook for a task (CreateTaskPushNotificationConfig, §3.1.7).

        Returns the stored config, with the ``id`` the agent assigned if none was
        given.

        Raises:
            PushNotificationNotSupportedError: the agent does not do push.
        """
        config = TaskPushNotificationConfig(
            task_id=task_id,
            url=url,
            id=id or "",
            token=token or "",
            authentication=authentication,
        )
        result: TaskPushNotificationConfig = await self._call(
            "CreateTaskPushNotificationConfig", config
        )
        return result

    async def get_push_config(
        self, task_id: str, id: str
    ) -> TaskPushNotificationConfig:
        """Return one push config of a task (GetTaskPushNotificationConfig, §3.1.8)."""
        request = GetTaskPushNotificationConfigRequest(task_id=task_id, id=id)
        result: TaskPushNotificationConfig = await self._call(
            "GetTaskPushNotificationConfig", request
        )
        return result

    async def list_push_configs(
        self,
        task_id: str,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> ListTaskPushNotificationConfigsResponse:
        """Return a task's push configs (ListTaskPushNotificationConfigs, §3.1.9)."""
        request = ListTaskPushNotificationConfigsRequest(
            task_id=task_id, page_size=page_size or 0, page_token=page_token or ""
        )
        result: ListTaskPushNotificationConfigsResponse = await self._call(
            "ListTaskPushNotificationConfigs", request
        )
        return result

    async def delete_push_config(self, task_id: str, id: str) -> None:
        """Delete a push config (DeleteTaskPushNotificationConfig, §3.1.10).

        Idempotent on the agent's side.
        """
        request = DeleteTaskPushNotificationConfigRequest(task_id=task_id, id=id)
        await self._call("DeleteTaskPushNotificationConfig", request)

    async def get_extended_agent_card(self) -> AgentCard:
        """Fetch the authenticated extended card (GetExtendedAgentCard, §3.1.11).

        The result replaces :attr:`card` for this client (spec §3.1.11: clients
        SHOULD use it instead of the public card for the authenticated session).

        Raises:
            UnsupportedOperationError: the agent declares no extended card.
            ExtendedAgentCardNotConfiguredError: declared but not configured.
        """
        card: AgentCard = await self._call(
            "GetExtendedAgentCard", GetExtendedAgentCardRequest()
        )
        self._card = card
        return card
