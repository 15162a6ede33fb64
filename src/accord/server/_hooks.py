"""Executions inside the interceptors' execution hooks (tracing, metrics).

:meth:`Interceptor.executing <accord.server.interceptors.Interceptor.executing>`
returns a context manager per execution; the runtime enters those of every interceptor
that overrides it around the execution, in the execution's own task, so that what one
makes current (an execution span) is current while the agent runs. With no such
interceptor the runtime runs executions as they are: nothing here is called.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from .interceptors import ExecutionInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from contextlib import AbstractContextManager

    from accord.types import TaskState

    from .agent import Agent
    from .runtime import Execution

    #: Wraps one execution (an interceptor's ``executing``).
    ExecutionHook = Callable[[ExecutionInfo], AbstractContextManager[object] | None]

__all__ = ["execution_info", "hooked"]

logger = logging.getLogger(__name__)


def execution_info(agent: Agent, x: Execution) -> ExecutionInfo:
    """What the hooks are told of execution ``x`` of ``agent``."""

    def state() -> TaskState | None:
        task = x.recorder.written_task
        return None if task is None else task.status.state

    skills = agent.skills
    return ExecutionInfo(
        task_id=x.task_id,
        context_id=x.context_id,
        request=x.request,
        agent=agent.name,
        skill=skills[0].id if len(skills) == 1 else "",
        attempt=x.attempt,
        queued=x.queued,
        _state=state,
        _error=lambda: x.error,
    )


@contextmanager
def hooked(hooks: Iterable[ExecutionHook], info: ExecutionInfo) -> Iterator[None]:
    """Inside the context managers ``hooks`` return for ``info`` (a hook that raises
    is logged and left out: the execution runs all the same)."""
    with ExitStack() as stack:
        for hook in hooks:
            try:
                scope = hook(info)
                if scope is not None:
                    stack.enter_context(scope)
            except Exception:
                logger.exception("an execution hook failed on task %s", info.task_id)
        yield
