"""The audit trail: append-only records of operations and task state changes, chained
by hash per tenant so that an edit, a deletion or a reordering shows (spec §13.4:
log security events and audit).

Theory of operation. An :class:`AuditRecord` says what happened: when, in which
tenant, who asked (principal), which operation or task state change, the task and
context ids, the W3C trace id of the request, the outcome, sizes and durations, and on
the client side the hash of the remote agent's card. A store that implements
:class:`AuditStore` appends records and gives each an :class:`AuditEntry`: its
position ``seq`` in its tenant's chain (1, 2, 3, ...), the hash of the previous entry
of that tenant (``prev``; :data:`GENESIS` for the first) and its own ``hash``::

    hash = sha256(canonical({...record members, "seq": seq, "prev": prev}))

``canonical`` is the RFC 8785 JSON Canonicalization Scheme of that flat object (the
record's members as :meth:`AuditRecord.to_json` names them, strings and integers;
:func:`canonical_bytes`), so anyone can recompute a hash from an exported JSON Lines
line (drop its ``hash`` member) with any JCS library. Each tenant's chain has a
head (the last ``seq`` and ``hash``), kept in the store and updated in the transaction
that appends: appends to one tenant are serialized (on PostgreSQL by a row lock on the
head, so several instances sharing a database build one chain per tenant).

Retention deletes the oldest entries of a chain (:meth:`AuditStore.purge_audit`) and
keeps a checkpoint, the chain's *base*: the ``seq`` and ``hash`` of the last deleted
entry, from which the rest still verifies. :func:`verify_entries` walks a chain and
reports the first broken link: an entry whose hash does not match its content (an
edit), a ``prev`` that is not the previous entry's hash or a ``seq`` out of sequence
(a deletion, an insertion, a reordering), or a chain that stops before its head (the
newest entries deleted).

What it cannot see: someone with write access to the database who rewrites a whole
chain from some point on, head included, produces a valid chain. Note the head hash
:func:`verify_store` reports somewhere else (a ticket, a log shipped off the host) to
detect that too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from accord.types import Message, SendMessageResponse, Task, encode

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "GENESIS",
    "MAX_AUDIT_PAGE",
    "AuditBreak",
    "AuditChain",
    "AuditEntry",
    "AuditQuery",
    "AuditRecord",
    "AuditReport",
    "AuditStore",
    "canonical_bytes",
    "encoded_size",
    "link",
    "subject_of",
    "verify_entries",
    "verify_store",
]

#: The ``prev`` of the first entry of every chain (64 zeros: no entry before it).
GENESIS = "0" * 64
#: Largest page :meth:`AuditStore.audit_entries` returns.
MAX_AUDIT_PAGE = 1000


def _clean(value: str) -> str:
    """``value`` as valid Unicode: a lone surrogate (possible in a decoded JSON
    string) cannot be stored nor canonicalized (RFC 8785 §3.1), so it becomes U+FFFD."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited event: an operation served or made, or a task state change.

    Attributes:
        time: when (canonical UTC timestamp, ``2025-01-31T12:00:00.000Z``).
        tenant: the tenant (``""``: the default one); each tenant has its own chain.
        kind: ``"operation"`` (served by an agent), ``"state"`` (a task's state
            changed) or ``"call"`` (made by a client to a remote agent).
        operation: the operation's name (``SendMessage``, ...); ``""`` for a state.
        principal: who asked (the authenticated principal id; for a state change,
            the task's owner).
        task_id: the task, ``""`` when there is none (a message-only reply, a
            refused call).
        context_id: the context, when known.
        trace_id: the W3C trace id of the request (``traceparent``), when it had one.
        outcome: ``"ok"``, or the error's reason (``TASK_NOT_FOUND``,
            ``RATE_LIMITED``, ...; ``INTERNAL`` for anything else).
        detail: the error's message, shortened; for a stream the client left,
            ``"client left"``.
        binding: ``JSONRPC``, ``HTTP+JSON`` or ``GRPC``.
        state: a state record's new task state (``TASK_STATE_WORKING``); an
            operation's resulting task state, when it returned a task.
        previous_state: a state record's state before (``""`` for a new task).
        request_bytes: size of the request's JSON encoding.
        response_bytes: size of the response's JSON encoding (a stream: 0).
        events: events a stream sent.
        duration_us: microseconds the operation took.
        card_hash: client side: sha256 (hex) of the canonical JSON (RFC 8785) of
            the remote agent's card the call used.
        peer: client side: the remote agent's URL.
    """

    time: str
    tenant: str = ""
    kind: str = "operation"
    operation: str = ""
    principal: str = ""
    task_id: str = ""
    context_id: str = ""
    trace_id: str = ""
    outcome: str = "ok"
    detail: str = ""
    binding: str = ""
    state: str = ""
    previous_state: str = ""
    request_bytes: int = 0
    response_bytes: int = 0
    events: int = 0
    duration_us: int = 0
    card_hash: str = ""
    peer: str = ""

    def __post_init__(self) -> None:
        for field in _STR_FIELDS:
            value = getattr(self, field)
            if not value.isascii():
                object.__setattr__(self, field, _clean(value))

    def to_json(self) -> dict[str, str | int]:
        """The record as a flat JSON object: every field, named in lowerCamelCase as
        A2A's JSON is (``taskId``, ``durationUs``)."""
        return {member: getattr(self, name) for name, member in _MEMBERS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditRecord:
        """The record in ``data`` (a :meth:`to_json` object, extra members ignored).

        Raises:
            ValueError: a field is missing or of the wrong type.
        """
        values: dict[str, Any] = {}
        for name, member in _MEMBERS:
            value = data.get(member)
            expected = int if name in _INT_FIELDS else str
            if type(value) is not expected:
                kind = "an integer" if expected is int else "a string"
                raise ValueError(f"audit record member {member!r} is not {kind}")
            values[name] = value
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(AuditRecord))
_INT_FIELDS = frozenset(("request_bytes", "response_bytes", "events", "duration_us"))
_STR_FIELDS = tuple(f for f in _FIELDS if f not in _INT_FIELDS)
#: (field name, JSON member name) of every field.
_MEMBERS = tuple(
    (name, name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:]))
    for name in _FIELDS
)


def subject_of(request: Any, result: Any) -> tuple[str, str, str]:
    """(task id, context id, task state) an operation was about, as far as its request
    and result tell: the task a result is (or a SendMessage made), the message of a
    message-only reply, the message sent, or the task id a request names."""
    if isinstance(result, SendMessageResponse):
        result = result.task or result.message
    if isinstance(result, Task):
        return result.id, result.context_id, result.status.state.value
    if isinstance(result, Message):  # a message-only reply: no task
        return result.task_id or "", result.context_id or "", ""
    message = getattr(request, "message", None)
    if isinstance(message, Message):
        return message.task_id or "", message.context_id or "", ""
    task_id = getattr(request, "task_id", None) or getattr(request, "id", None)
    return (task_id if isinstance(task_id, str) else ""), "", ""


def encoded_size(value: Any) -> int:
    """Bytes of ``value``'s JSON encoding (0 when it is not an A2A value)."""
    try:
        return len(encode(value))
    except (TypeError, ValueError):
        return 0


def canonical_bytes(value: dict[str, str | int]) -> bytes:
    """The RFC 8785 (JCS) canonical form of a flat JSON object of strings and integers.

    For such an object JCS is: members sorted by name (the names here are ASCII, so
    code point order is the UTF-16 order RFC 8785 §3.2.3 asks for), no whitespace,
    strings escaping only ``"``, ``\\`` and control characters, with the short forms
    ``\\b \\t \\n \\f \\r`` and lowercase ``\\u00xx`` otherwise (§3.2.2.2), integers in
    decimal (§3.2.2.3, exact below 2**53), UTF-8. The standard library's encoder with
    these options writes exactly that (the tests check it against the ``rfc8785``
    package).

    Raises:
        ValueError: an integer beyond 2**53 - 1, which JCS cannot represent exactly.
    """
    for item in value.values():
        if type(item) is int and abs(item) > 2**53 - 1:
            raise ValueError("audit integers must be within +-(2**53 - 1)")
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def entry_hash(record: AuditRecord, seq: int, prev: str) -> str:
    """The hash of ``record`` at position ``seq`` after an entry of hash ``prev``."""
    body = record.to_json()
    body["seq"] = seq
    body["prev"] = prev
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A stored record with its place in its tenant's chain.

    Attributes:
        record: what happened.
        seq: its position in its tenant's chain (1 for the first ever appended).
        prev: the hash of the entry before it (:data:`GENESIS` for seq 1).
        hash: this entry's hash (see the module docstring).
        id: the store's own order of all entries, every tenant together (for paging
            and ``--follow``; not part of the hash; 0 when read from a file).
    """

    record: AuditRecord
    seq: int
    prev: str
    hash: str
    id: int = 0

    def to_json(self) -> dict[str, str | int]:
        """The JSON Lines form: the record's fields, ``seq``, ``prev`` and ``hash``."""
        body = self.record.to_json()
        body["seq"] = self.seq
        body["prev"] = self.prev
        body["hash"] = self.hash
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        """The entry in ``data`` (a :meth:`to_json` object).

        Raises:
            ValueError: a member is missing or of the wrong type.
        """
        seq, prev, digest = data.get("seq"), data.get("prev"), data.get("hash")
        if type(seq) is not int or type(prev) is not str or type(digest) is not str:
            raise ValueError(
                "an audit entry needs an integer seq and string prev, hash"
            )
        return cls(AuditRecord.from_json(data), seq, prev, digest)


def link(
    records: Iterable[AuditRecord], *, seq: int, prev: str, first_id: int = 0
) -> list[AuditEntry]:
    """Chain ``records`` (of one tenant) after the entry at ``seq`` of hash ``prev``.

    ``first_id``: the :attr:`AuditEntry.id` of the first (the next get ``+1`` each).
    """
    entries: list[AuditEntry] = []
    for offset, record in enumerate(records):
        seq += 1
        digest = entry_hash(record, seq, prev)
        entries.append(AuditEntry(record, seq, prev, digest, first_id + offset))
        prev = digest
    return entries


@dataclass(frozen=True, slots=True)
class AuditChain:
    """One tenant's chain: where it starts (after retention) and where it ends.

    Attributes:
        tenant: the tenant.
        base_seq: the ``seq`` of the last entry retention deleted (0: none).
        base_hash: that entry's hash (:data:`GENESIS` when none): the first entry
            kept has it as its ``prev``.
        head_seq: the ``seq`` of the newest entry.
        head_hash: the newest entry's hash.
    """

    tenant: str
    base_seq: int = 0
    base_hash: str = GENESIS
    head_seq: int = 0
    head_hash: str = GENESIS


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries :meth:`AuditStore.audit_entries` returns, oldest first.

    Attributes:
        tenant: only this tenant (None: every tenant).
        task_id: only entries about this task (``""``: any).
        context_id: only entries about this context (``""``: any).
        since: only entries whose ``time`` is at or after this canonical timestamp.
        after: only entries whose :attr:`AuditEntry.id` is greater (paging,
            following).
        limit: the most entries returned (at most :data:`MAX_AUDIT_PAGE`).
    """

    tenant: str | None = None
    task_id: str = ""
    context_id: str = ""
    since: str = ""
    after: int = 0
    limit: int = 100

    def page_size(self) -> int:
        """:attr:`limit` within 1 .. :data:`MAX_AUDIT_PAGE`."""
        return max(1, min(self.limit, MAX_AUDIT_PAGE))

    def matches(self, entry: AuditEntry) -> bool:
        """True when ``entry`` passes the filters (not ``after`` nor ``limit``)."""
        record = entry.record
        return (
            (self.tenant is None or record.tenant == self.tenant)
            and (not self.task_id or record.task_id == self.task_id)
            and (not self.context_id or record.context_id == self.context_id)
            and (not self.since or record.time >= self.since)
        )


@runtime_checkable
class AuditStore(Protocol):
    """An append-only, hash-chained audit trail (see the module docstring).

    Implemented by every task store, on the same database as the tasks. A store made
    with ``audit=True`` also records each task state change it writes, in the same
    transaction as the task (:attr:`audit_states`).
    """

    @property
    def audit_states(self) -> bool:
        """True when task writes append a ``"state"`` record for each state change."""
        ...

    async def append_audit(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Append ``records`` (any tenants; in order within each) to their chains."""
        ...

    async def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Up to ``query.limit`` entries matching ``query``, in :attr:`AuditEntry.id`
        order (within a tenant that is chain order)."""
        ...

    async def audit_chains(self) -> list[AuditChain]:
        """Every tenant's chain (base and head), by tenant."""
        ...

    async def purge_audit(self, *, older_than: str, batch: int = 1000) -> int:
        """Delete each chain's oldest entries whose time is before ``older_than``
        (a canonical timestamp), ``batch`` at a time, moving the chain's base to the
        last deleted; return how many were deleted. Entries go from the start of a
        chain only: an old entry after a newer one waits for it."""
        ...


@dataclass(frozen=True, slots=True)
class AuditBreak:
    """The first broken link of a chain.

    Attributes:
        tenant: the chain's tenant.
        seq: the position where the chain breaks (the entry expected there).
        id: the store id of the entry found there (0 when none, or from a file).
        reason: what is wrong, in a sentence.
    """

    tenant: str
    seq: int
    id: int
    reason: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The verification of one tenant's chain.

    Attributes:
        tenant: the tenant.
        entries: how many entries were checked.
        head_seq: the last entry checked (or the chain's base when none).
        head_hash: its hash: note it elsewhere to detect a rewritten chain later.
        broken: the first broken link, None when the chain is intact.
    """

    tenant: str
    entries: int
    head_seq: int
    head_hash: str
    broken: AuditBreak | None = None

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return self.broken is None


class _Checker:
    """Walks one tenant's chain entry by entry and remembers the first break."""

    def __init__(self, tenant: str, chain: AuditChain | None) -> None:
        self.tenant = tenant
        self.chain = chain
        self.seq: int | None = None if chain is None else chain.base_seq
        self.prev: str | None = None if chain is None else chain.base_hash
        self.count = 0
        self.broken: AuditBreak | None = None

    def feed(self, entry: AuditEntry) -> bool:
        """Check ``entry`` as the next one; False (and :attr:`broken` set) if not."""
        expected = None if self.seq is None else self.seq + 1
        if expected is not None and entry.seq != expected:
            if entry.seq > expected:
                missing = (
                    f"entry {expected} is"
                    if entry.seq == expected + 1
                    else f"entries {expected}..{entry.seq - 1} are"
                )
                why = f"{missing} missing here (deleted, or moved: found {entry.seq})"
            else:
                why = (
                    f"entry {entry.seq} is where {expected} belongs "
                    "(moved or duplicated)"
                )
            return self._break(expected, entry.id, why)
        if entry_hash(entry.record, entry.seq, entry.prev) != entry.hash:
            why = "its content does not match its hash (edited)"
            return self._break(entry.seq, entry.id, why)
        if self.prev is not None and entry.prev != self.prev:
            why = (
                "its prev is not the hash of the entry before it (an entry was "
                "deleted, inserted, reordered, or edited along with its hash)"
            )
            return self._break(entry.seq, entry.id, why)
        self.seq, self.prev = entry.seq, entry.hash
        self.count += 1
        return True

    def _break(self, seq: int, entry_id: int, why: str) -> bool:
        self.broken = AuditBreak(self.tenant, seq, entry_id, f"seq {seq}: {why}")
        return False

    def report(self) -> AuditReport:
        """The verdict, once every entry was fed (or one broke the chain)."""
        seq, prev = self.seq or 0, self.prev or GENESIS
        chain = self.chain
        if (
            self.broken is None
            and chain is not None
            and (seq, prev) != (chain.head_seq, chain.head_hash)
        ):
            self._break(
                seq + 1,
                0,
                f"the chain ends at {seq} but its head is entry {chain.head_seq} "
                "(the newest entries were deleted, or the head edited)",
            )
        return AuditReport(self.tenant, self.count, seq, prev, self.broken)


def verify_entries(
    tenant: str,
    entries: Iterable[AuditEntry],
    *,
    chain: AuditChain | None = None,
) -> AuditReport:
    """Check one tenant's entries, in stored order, against each other and ``chain``.

    With ``chain`` (from the store), the first entry must follow its base and the last
    must be its head. Without (entries read from an export), the first entry is taken
    as it is: its own content must still match its hash, and the rest must follow.
    """
    checker = _Checker(tenant, chain)
    for entry in entries:
        if not checker.feed(entry):
            break
    return checker.report()


async def verify_store(
    store: AuditStore, *, tenant: str | None = None, page: int = MAX_AUDIT_PAGE
) -> list[AuditReport]:
    """Verify every chain of ``store`` (or only ``tenant``'s), by tenant.

    Reads ``page`` entries at a time: memory stays bounded however long the chains.
    """
    reports: list[AuditReport] = []
    for chain in await store.audit_chains():
        if tenant is not None and chain.tenant != tenant:
            continue
        checker = _Checker(chain.tenant, chain)
        after = 0
        while checker.broken is None:
            batch = await store.audit_entries(
                AuditQuery(tenant=chain.tenant, after=after, limit=page)
            )
            for entry in batch:
                if not checker.feed(entry):
                    break
            if len(batch) < page:
                break
            after = batch[-1].id
        reports.append(checker.report())
    return reports
