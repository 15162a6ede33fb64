"""The attack matrix: nobody sees, continues, cancels or configures another's tasks.

For every operation that names a task, over both bindings, a second principal of the
same tenant, a principal of another tenant (on its own route and on the victim's),
and principals whose policy hook fails, try the first principal's tasks. Every
attempt must answer exactly what the same call answers for a task id that does not
exist (same status, headers and body, ids blanked): no existence oracle (spec §13.1,
§3.1.4, §3.3.2). The victim's tasks must be unchanged afterwards.
Then the ``task_access`` hook widens access on purpose (a tenant administrator).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from accord.server import A2AApp
from accord.server.auth import AccessRequest, ApiKeyRing, ApiKeyVerifier, AuthConfig
from accord.stores import MemoryTaskStore
from accord.stores.base import Scope
from tests.helpers.uvicorn_thread import serve_in_thread

from .helpers import (
    BINDINGS,
    Caller,
    api_key_scheme,
    guarded_agent,
    message,
    requirement,
    task_of,
)

KEYS = {
    "alice": ("alice-key-0123456789abcdef", ""),
    "bob": ("bob-key-0123456789abcdefgh", ""),
    "carol": ("carol-key-0123456789abcdef", "acme"),
    "dave": ("dave-key-0123456789abcdefg", "acme"),
    "acme-admin": ("admin-key-0123456789abcdef", "acme"),
    "boom": ("boom-key-0123456789abcdefg", None),
    "escape": ("escape-key-0123456789abcde", None),
}


def policy(req: AccessRequest) -> Scope:
    who = req.principal.id if req.principal is not None else ""
    if who == "acme-admin":
        return Scope(req.tenant, owner=None)  # sees every task of its tenant
    if who == "boom":
        raise RuntimeError("the policy service is down")
    if who == "escape":
        return Scope("acme", owner=None)  # a buggy hook leaving the tenant
    return req.default


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    ring = ApiKeyRing()
    for principal, (key, tenant) in KEYS.items():
        ring.add(key, principal=principal, tenant=tenant)
    agent = guarded_agent(
        {"key": api_key_scheme("header", "X-API-Key")}, [requirement(key=[])]
    )
    app = A2AApp(
        agent,
        store=MemoryTaskStore(),
        auth=AuthConfig(verifiers={"key": ApiKeyVerifier(ring)}, task_access=policy),
    )
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def as_(base: str, http: httpx.Client, binding: str) -> Callable[[str], Caller]:
    def make(principal: str) -> Caller:
        return Caller(base, binding, http, {"X-API-Key": KEYS[principal][0]})

    return make


@pytest.fixture(scope="module")
def victim(base: str, http: httpx.Client) -> dict[str, Any]:
    """Alice's task waiting for input (tenant ""), and Carol's (tenant "acme")."""
    alice = Caller(base, "JSONRPC", http, {"X-API-Key": KEYS["alice"][0]})
    carol = Caller(base, "JSONRPC", http, {"X-API-Key": KEYS["carol"][0]})
    mine = task_of(alice.call("SendMessage", {"message": message("ask")}))
    theirs = task_of(
        carol.call("SendMessage", {"message": message("ask"), "tenant": "acme"})
    )
    assert mine["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    return {"alice": mine, "carol": theirs}


def attack(method: str, task_id: str, tenant: str) -> dict[str, Any]:
    """The parameters of ``method`` aimed at ``task_id``."""
    if method in ("SendMessage", "SendStreamingMessage"):
        return {"message": message("my answer", taskId=task_id), "tenant": tenant}
    if method == "CreateTaskPushNotificationConfig":
        return {
            "taskId": task_id,
            "url": "https://attacker.example/hook",
            "tenant": tenant,
        }
    if method in ("GetTaskPushNotificationConfig", "DeleteTaskPushNotificationConfig"):
        return {"taskId": task_id, "id": "cfg-1", "tenant": tenant}
    if method == "ListTaskPushNotificationConfigs":
        return {"taskId": task_id, "tenant": tenant}
    return {"id": task_id, "tenant": tenant}


METHODS = [
    "GetTask",
    "CancelTask",
    "SubscribeToTask",
    "SendMessage",
    "SendStreamingMessage",
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
]
#: (who attacks, on which tenant's route, which victim's task, the expected refusal)
ATTACKERS = [
    ("bob", "", "alice", "in-tenant"),  # same tenant, another principal
    ("carol", "acme", "alice", "in-tenant"),  # another tenant, on its own route
    ("carol", "", "alice", "forbidden"),  # another tenant, on the victim's route
    ("alice", "acme", "carol", "forbidden"),
    ("dave", "acme", "carol", "in-tenant"),
    ("acme-admin", "", "alice", "forbidden"),  # an admin only of its own tenant
    ("acme-admin", "acme", "alice", "in-tenant"),
    ("boom", "", "alice", "forbidden"),  # the policy hook raises
    ("escape", "", "alice", "forbidden"),  # the policy hook leaves the tenant
]


def _state(as_: Callable[[str], Caller], owner: str, task: dict[str, Any]) -> Any:
    tenant = "acme" if owner == "carol" else ""
    got = as_(owner).call("GetTask", {"id": task["id"], "tenant": tenant})
    return got.result["status"]["state"], len(got.result.get("history", []))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("attacker", "tenant", "owner", "expected"),
    ATTACKERS,
    ids=[f"{a}@{t or 'default'}->{o}" for a, t, o, _ in ATTACKERS],
)
def test_foreign_tasks_look_missing(
    as_: Callable[[str], Caller],
    victim: dict[str, Any],
    method: str,
    attacker: str,
    tenant: str,
    owner: str,
    expected: str,
) -> None:
    target = victim[owner]
    before = _state(as_, owner, target)
    missing_id = str(uuid.uuid4())
    caller = as_(attacker)
    foreign = caller.call(method, attack(method, target["id"], tenant), limit=1)
    missing = caller.call(method, attack(method, missing_id, tenant), limit=1)
    assert foreign.events is None, "the attacker got a stream"
    assert foreign.normalized(target["id"]) == missing.normalized(missing_id)
    if method.endswith(("PushNotificationConfig", "Configs")):
        # Push is off: the capability refusal, before any lookup, for everyone.
        assert foreign.reason in (
            "PUSH_NOTIFICATION_NOT_SUPPORTED",
            "PERMISSION_DENIED",
        )
    elif expected == "in-tenant":
        assert (foreign.status, foreign.reason) in (
            (404, "TASK_NOT_FOUND"),
            (200, "TASK_NOT_FOUND"),
        )
    if expected == "forbidden":
        assert foreign.status == 403
        assert foreign.reason == "PERMISSION_DENIED"
    assert _state(as_, owner, target) == before


@pytest.mark.parametrize("attacker", ["bob", "carol", "acme-admin"])
def test_lists_show_only_own_tasks(
    as_: Callable[[str], Caller], victim: dict[str, Any], attacker: str
) -> None:
    tenant = "" if attacker == "bob" else "acme"
    caller = as_(attacker)
    task_of(
        caller.call("SendMessage", {"message": message("echo mine"), "tenant": tenant})
    )
    listed = caller.call("ListTasks", {"tenant": tenant}).result
    owners_ids = {t["id"] for t in listed["tasks"]}
    assert victim["alice"]["id"] not in owners_ids
    assert listed["totalSize"] == len(listed["tasks"])
    by_context = caller.call(
        "ListTasks", {"tenant": tenant, "contextId": victim["alice"]["contextId"]}
    ).result
    assert by_context["tasks"] == []
    assert by_context["totalSize"] == 0


def test_the_owner_still_has_full_access(
    as_: Callable[[str], Caller], victim: dict[str, Any]
) -> None:
    alice = as_("alice")
    task = task_of(alice.call("SendMessage", {"message": message("ask")}))
    first = alice.call("SubscribeToTask", {"id": task["id"]}, limit=1)
    assert first.events is not None
    assert first.events[0]["task"]["id"] == task["id"]
    done = task_of(
        alice.call("SendMessage", {"message": message("Ada", taskId=task["id"])})
    )
    assert done["status"]["state"] == "TASK_STATE_COMPLETED"
    listed = alice.call("ListTasks", {}).result
    assert {task["id"], victim["alice"]["id"]} <= {t["id"] for t in listed["tasks"]}


def test_the_hook_widens_on_purpose(
    as_: Callable[[str], Caller], victim: dict[str, Any]
) -> None:
    admin = as_("acme-admin")
    carol_task = task_of(
        as_("carol").call("SendMessage", {"message": message("ask"), "tenant": "acme"})
    )
    seen = admin.call("GetTask", {"id": carol_task["id"], "tenant": "acme"})
    assert seen.result["id"] == carol_task["id"]
    listed = admin.call("ListTasks", {"tenant": "acme"}).result
    assert {carol_task["id"], victim["carol"]["id"]} <= {
        t["id"] for t in listed["tasks"]
    }
    # The administrator answers Carol's question; the task stays Carol's.
    done = task_of(
        admin.call(
            "SendMessage",
            {"message": message("Ada", taskId=carol_task["id"]), "tenant": "acme"},
        )
    )
    assert done["status"]["state"] == "TASK_STATE_COMPLETED"
    mine = as_("carol").call("GetTask", {"id": carol_task["id"], "tenant": "acme"})
    assert mine.result["status"]["state"] == "TASK_STATE_COMPLETED"
    # Dave (same tenant, no role) still cannot see it.
    dave = as_("dave").call("GetTask", {"id": carol_task["id"], "tenant": "acme"})
    assert dave.reason == "TASK_NOT_FOUND"


def test_last_event_id_replay_is_scoped_too(
    base: str, http: httpx.Client, binding: str, victim: dict[str, Any]
) -> None:
    bob = Caller(
        base, binding, http, {"X-API-Key": KEYS["bob"][0], "Last-Event-ID": "0"}
    )
    missing_id = str(uuid.uuid4())
    foreign = bob.call("SubscribeToTask", {"id": victim["alice"]["id"]}, limit=1)
    missing = bob.call("SubscribeToTask", {"id": missing_id}, limit=1)
    assert foreign.events is None
    assert foreign.normalized(victim["alice"]["id"]) == missing.normalized(missing_id)
