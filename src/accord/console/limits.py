"""The console's bounds: sessions, request sizes, stream lifetimes, logs."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["ConsoleLimits"]


@dataclass(frozen=True, slots=True)
class ConsoleLimits:
    """Every bound of a :class:`~accord.console.ConsoleApp`, in one place.

    Attributes:
        max_sessions: sessions held at once; one more evicts the one idle longest
            (its connection is closed, its credentials forgotten).
        session_idle: seconds a session lives without a request.
        max_body: bytes of a request body the console reads (a message typed in the
            page); a larger one is refused with 413.
        stream_seconds: seconds one live stream to the page lasts at most; the task
            on the agent goes on, and the page can follow it again.
        streams_per_session: live streams one session may hold at once.
        keepalive: seconds of silence before a stream sends an SSE comment.
        exchanges: raw request/response exchanges kept per session.
        tracked_tasks: tasks per session whose event timeline is kept.
        timeline_events: events kept per task timeline.
        audit_entries: audit records kept per session (the console's own calls).
        max_response_bytes: bytes read of one answer from an agent (a stream: all
            its events together).
    """

    max_sessions: int = 64
    session_idle: float = 1800.0
    max_body: int = 256 * 1024
    stream_seconds: float = 600.0
    streams_per_session: int = 4
    keepalive: float = 15.0
    exchanges: int = 200
    tracked_tasks: int = 200
    timeline_events: int = 500
    audit_entries: int = 5000
    max_response_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"ConsoleLimits.{f.name} must be > 0")
