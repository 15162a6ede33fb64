"""The task lifecycle table and ``apply`` (spec §3, §3.1; no event loop).

The expected table is written out here from the theory in lifecycle.py's docstring,
independently of the module's own sets:

* terminal states (COMPLETED, FAILED, CANCELED, REJECTED) are final: nothing leaves them;
* ``TASK_STATE_UNSPECIFIED`` is never a real state: nothing enters or leaves it;
* SUBMITTED is only a first state: nothing moves (back) to it;
* every other move between non-terminal states, or into a terminal one, is allowed
  (an agent may skip states; INPUT_REQUIRED / AUTH_REQUIRED resume to WORKING or end).
"""

from __future__ import annotations

import itertools

import pytest

from accord import types as t
from accord.errors import InvalidAgentResponseError
from accord.protocol import lifecycle
from accord.types import TaskState as S

TERMINAL = {S.COMPLETED, S.FAILED, S.CANCELED, S.REJECTED}
INTERRUPTED = {S.INPUT_REQUIRED, S.AUTH_REQUIRED}
ACTIVE = {S.SUBMITTED, S.WORKING}


def allowed(current: S | None, new: S) -> bool:
    """The intended table (lifecycle.py docstring, spec §3.1.1, §3.1.6)."""
    if S.UNSPECIFIED in (current, new):
        return False
    if current is None:
        return True  # a task may be created in any real state
    if current in TERMINAL:
        return False
    return new is not S.SUBMITTED


PAIRS = list(itertools.product([None, *S], list(S)))


@pytest.mark.parametrize(
    ("current", "new"),
    PAIRS,
    ids=[f"{c.name if c else 'new'}->{n.name}" for c, n in PAIRS],
)
def test_every_transition(current: S | None, new: S) -> None:
    if allowed(current, new):
        lifecycle.check_transition(current, new)
    else:
        with pytest.raises(InvalidAgentResponseError, match="Illegal task state"):
            lifecycle.check_transition(current, new)


def test_table_has_a_row_for_every_state() -> None:
    assert set(lifecycle.TRANSITIONS) == set(S)
    for current, targets in lifecycle.TRANSITIONS.items():
        assert targets == {n for n in S if allowed(current, n)}
    assert {n for n in S if allowed(None, n)} == lifecycle.INITIAL


def test_state_classes() -> None:
    assert lifecycle.TERMINAL == TERMINAL
    assert lifecycle.INTERRUPTED == INTERRUPTED
    assert lifecycle.ACTIVE == ACTIVE
    assert lifecycle.CANCELABLE == ACTIVE | INTERRUPTED
    # The classes partition the real states.
    assert set(S) - {S.UNSPECIFIED} == TERMINAL | INTERRUPTED | ACTIVE
    for state in S:
        assert lifecycle.is_terminal(state) is (state in TERMINAL)
        assert lifecycle.ends_stream(state) is (state in TERMINAL | INTERRUPTED)


# --- apply ---------------------------------------------------------------------------------


def part(text: str) -> t.Part:
    return t.Part(text=text)


def message(mid: str, role: t.Role = t.Role.AGENT) -> t.Message:
    return t.Message(message_id=mid, role=role, parts=(part(mid),))


def status(state: S, msg: t.Message | None = None) -> t.TaskStatusUpdateEvent:
    return t.TaskStatusUpdateEvent(
        task_id="t", context_id="c", status=t.TaskStatus(state=state, message=msg)
    )


def artifact(aid: str, *texts: str, append: bool = False) -> t.TaskArtifactUpdateEvent:
    return t.TaskArtifactUpdateEvent(
        task_id="t",
        context_id="c",
        artifact=t.Artifact(artifact_id=aid, parts=tuple(map(part, texts))),
        append=append,
    )


def task(
    state: S = S.WORKING,
    *,
    history: tuple[t.Message, ...] = (),
    artifacts: tuple[t.Artifact, ...] = (),
) -> t.Task:
    return t.Task(
        id="t",
        context_id="c",
        status=t.TaskStatus(state=state),
        history=history,
        artifacts=artifacts,
    )


def texts(a: t.Artifact) -> list[str]:
    return [p.text or "" for p in a.parts]


def test_status_update_replaces_status_and_records_its_message() -> None:
    before = task(S.SUBMITTED)
    ask = message("ask")
    after = lifecycle.apply(before, status(S.INPUT_REQUIRED, ask))
    assert after.status == t.TaskStatus(state=S.INPUT_REQUIRED, message=ask)
    assert after.history == (ask,)
    assert before.status.state is S.SUBMITTED  # the input is untouched


def test_status_message_already_in_history_is_not_duplicated() -> None:
    ask = message("ask")
    before = task(S.WORKING, history=(ask,))
    after = lifecycle.apply(before, status(S.INPUT_REQUIRED, ask))
    assert after.history == (ask,)


def test_status_update_without_message_keeps_history() -> None:
    before = task(S.WORKING, history=(message("m1"),))
    after = lifecycle.apply(before, status(S.COMPLETED))
    assert after.history == before.history
    assert after.status.state is S.COMPLETED


def test_illegal_status_update_is_refused() -> None:
    with pytest.raises(InvalidAgentResponseError):
        lifecycle.apply(task(S.WORKING), status(S.SUBMITTED))
    with pytest.raises(InvalidAgentResponseError):
        lifecycle.apply(task(S.WORKING), status(S.UNSPECIFIED))


def test_new_artifact_is_added_in_order() -> None:
    after = lifecycle.apply(task(), artifact("a", "1"))
    after = lifecycle.apply(after, artifact("b", "2"))
    assert [a.artifact_id for a in after.artifacts] == ["a", "b"]


def test_artifact_with_same_id_replaces_in_place() -> None:
    before = lifecycle.apply(task(), artifact("a", "old"))
    before = lifecycle.apply(before, artifact("b", "other"))
    after = lifecycle.apply(before, artifact("a", "new"))
    assert [a.artifact_id for a in after.artifacts] == ["a", "b"]
    assert texts(after.artifacts[0]) == ["new"]


def test_append_extends_the_parts() -> None:
    before = lifecycle.apply(task(), artifact("a", "1"))
    after = lifecycle.apply(before, artifact("a", "2", "3", append=True))
    assert texts(after.artifacts[0]) == ["1", "2", "3"]
    assert len(after.artifacts) == 1


def test_append_to_unknown_artifact_adds_it() -> None:
    after = lifecycle.apply(task(), artifact("a", "1", append=True))
    assert [texts(a) for a in after.artifacts] == [["1"]]


def test_append_keeps_the_original_artifact_fields() -> None:
    first = t.TaskArtifactUpdateEvent(
        task_id="t",
        artifact=t.Artifact(artifact_id="a", name="report", parts=(part("1"),)),
    )
    before = lifecycle.apply(task(), first)
    after = lifecycle.apply(before, artifact("a", "2", append=True))
    assert after.artifacts[0].name == "report"


def test_message_joins_history_once() -> None:
    user = message("u", t.Role.USER)
    after = lifecycle.apply(task(S.INPUT_REQUIRED), user)
    assert after.history == (user,)
    assert lifecycle.apply(after, user) is after


def test_stream_response_is_unwrapped() -> None:
    after = lifecycle.apply(task(), t.StreamResponse(status_update=status(S.COMPLETED)))
    assert after.status.state is S.COMPLETED
    after = lifecycle.apply(
        task(), t.StreamResponse(artifact_update=artifact("a", "x"))
    )
    assert after.artifacts[0].artifact_id == "a"
    user = message("u", t.Role.USER)
    after = lifecycle.apply(task(), t.StreamResponse(message=user))
    assert after.history == (user,)


def test_snapshot_replaces_the_task() -> None:
    snapshot = task(
        S.COMPLETED, artifacts=(t.Artifact(artifact_id="a", parts=(part("x"),)),)
    )
    assert lifecycle.apply(task(S.WORKING), t.StreamResponse(task=snapshot)) is snapshot


def test_snapshot_state_change_follows_the_table() -> None:
    with pytest.raises(InvalidAgentResponseError):
        lifecycle.apply(task(S.WORKING), t.StreamResponse(task=task(S.SUBMITTED)))


def test_other_values_are_refused() -> None:
    with pytest.raises(TypeError):
        lifecycle.apply(task(), t.Part(text="x"))  # type: ignore[arg-type]


# --- terminal immutability -----------------------------------------------------------------


@pytest.mark.parametrize("final", sorted(TERMINAL))
@pytest.mark.parametrize(
    "event",
    [
        *(status(s) for s in S),
        artifact("a", "late"),
        artifact("a", "late", append=True),
        message("late", t.Role.USER),
        t.StreamResponse(status_update=status(S.WORKING)),
        t.StreamResponse(artifact_update=artifact("b", "x")),
        t.StreamResponse(message=message("late")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_terminal_task_takes_no_event(final: S, event: object) -> None:
    done = task(final, artifacts=(t.Artifact(artifact_id="a", parts=(part("x"),)),))
    with pytest.raises(InvalidAgentResponseError):
        lifecycle.apply(done, event)  # type: ignore[arg-type]


@pytest.mark.parametrize("final", sorted(TERMINAL))
def test_terminal_task_takes_its_final_snapshot_only(final: S) -> None:
    done = task(final)
    resent = task(final, history=(message("m"),))
    assert lifecycle.apply(done, t.StreamResponse(task=resent)) is resent
    for other in S:
        if other is not final:
            with pytest.raises(InvalidAgentResponseError):
                lifecycle.apply(done, t.StreamResponse(task=task(other)))
