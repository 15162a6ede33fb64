"""The four push-config operations and SendMessage's inline config (spec §3.1.7-§3.1.10,
§4.3) over both HTTP bindings, on a real server with a SQLite file: ids, replace,
pages, idempotent delete, refusals that name the field, isolation between callers,
and configs sealed at rest."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.server import A2AApp, Agent, Engine
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.server.push import PushSettings, generate_key
from accord.stores import SQLiteTaskStore
from accord.types import TaskPushNotificationConfig

from .auth.helpers import api_key_scheme, requirement
from .conftest import Wire, WireError, serve, user_message
from .scripted import behave

HOOK = "https://hooks.example.com/a2a"
SECRET = "s3cret-credential-0123456789"


def push_agent(**card: Any) -> Agent:
    return Agent(
        behave,
        name="Pushy",
        description="Scripted agent that delivers push notifications",
        push_notifications=True,
        **card,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("push") / "tasks.db"


@pytest.fixture(scope="module")
def push_url(db: Path) -> Iterator[str]:
    app = A2AApp(
        push_agent(),
        store=SQLiteTaskStore(db),
        push=PushSettings(keys=[generate_key()], max_configs_per_task=3),
    )
    with serve(app) as url:
        yield url


@pytest.fixture(params=["JSONRPC", "HTTP+JSON"])
def pwire(request: pytest.FixtureRequest, push_url: str, http: httpx.Client) -> Wire:
    return Wire(push_url, str(request.param), http)


def new_task(wire: Wire, text: str = "ask", **config: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"message": user_message(text)}
    if config:
        params["configuration"] = config
    task = wire.call("SendMessage", params)["task"]
    assert isinstance(task, dict)
    return task


def test_the_card_says_push(pwire: Wire) -> None:
    card = pwire.http.get(pwire.base + "/.well-known/agent-card.json").json()
    assert card["capabilities"]["pushNotifications"] is True


def test_create_get_list_delete(pwire: Wire) -> None:
    task = new_task(pwire)
    created = pwire.call(
        "CreateTaskPushNotificationConfig",
        {
            "taskId": task["id"],
            "url": HOOK,
            "token": "tok-1",
            "authentication": {"scheme": "Bearer", "credentials": SECRET},
        },
    )
    assert created["taskId"] == task["id"]
    assert created["id"]  # the server gives one (spec §3.1.7)
    assert created["url"] == HOOK
    got = pwire.call(
        "GetTaskPushNotificationConfig", {"taskId": task["id"], "id": created["id"]}
    )
    assert got == created
    listed = pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert listed["configs"] == [created]
    assert listed.get("nextPageToken", "") == ""
    deleted = pwire.call(
        "DeleteTaskPushNotificationConfig", {"taskId": task["id"], "id": created["id"]}
    )
    assert deleted in ({}, None)
    # spec §3.1.10: repeated deletes behave the same
    again = pwire.call(
        "DeleteTaskPushNotificationConfig", {"taskId": task["id"], "id": created["id"]}
    )
    assert again == deleted
    with pytest.raises(WireError) as err:
        pwire.call(
            "GetTaskPushNotificationConfig", {"taskId": task["id"], "id": created["id"]}
        )
    assert err.value.reason == "TASK_NOT_FOUND"
    assert (
        pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"]}).get(
            "configs", []
        )
        == []
    )


def test_a_chosen_id_is_kept_and_replaced(pwire: Wire) -> None:
    task = new_task(pwire)
    for url in (HOOK, HOOK + "/v2"):
        created = pwire.call(
            "CreateTaskPushNotificationConfig",
            {"taskId": task["id"], "id": "mine", "url": url},
        )
        assert created["id"] == "mine"
    listed = pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert [(c["id"], c["url"]) for c in listed["configs"]] == [("mine", HOOK + "/v2")]


def test_pages_and_the_per_task_bound(pwire: Wire) -> None:
    task = new_task(pwire)
    for name in ("a", "b", "c"):
        pwire.call(
            "CreateTaskPushNotificationConfig",
            {"taskId": task["id"], "id": name, "url": f"{HOOK}/{name}"},
        )
    first = pwire.call(
        "ListTaskPushNotificationConfigs", {"taskId": task["id"], "pageSize": 2}
    )
    assert [c["id"] for c in first["configs"]] == ["a", "b"]
    second = pwire.call(
        "ListTaskPushNotificationConfigs",
        {"taskId": task["id"], "pageSize": 2, "pageToken": first["nextPageToken"]},
    )
    assert [c["id"] for c in second["configs"]] == ["c"]
    assert second.get("nextPageToken", "") == ""
    with pytest.raises(WireError) as err:
        pwire.call(
            "CreateTaskPushNotificationConfig",
            {"taskId": task["id"], "id": "d", "url": HOOK},
        )
    assert err.value.reason == "INVALID_PARAMS"
    assert "3 push notification configs" in err.value.message
    # Replacing one of the three is not a fourth.
    pwire.call(
        "CreateTaskPushNotificationConfig",
        {"taskId": task["id"], "id": "a", "url": HOOK},
    )
    for bad in ({"pageSize": 101}, {"pageToken": "not-a-cursor"}):
        with pytest.raises(WireError) as err:
            pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"], **bad})
        assert err.value.reason == "INVALID_PARAMS"


@pytest.mark.parametrize("method", ["List", "Get", "Delete", "Create"])
def test_an_unknown_task_is_not_found(pwire: Wire, method: str) -> None:
    params: dict[str, Any] = {"taskId": "no-such-task"}
    if method == "Create":
        params["url"] = HOOK
    elif method != "List":
        params["id"] = "c"
    name = (
        "ListTaskPushNotificationConfigs"
        if method == "List"
        else f"{method}TaskPushNotificationConfig"
    )
    with pytest.raises(WireError) as err:
        pwire.call(name, params)
    assert err.value.reason == "TASK_NOT_FOUND"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"url": "http://hooks.example.com/a2a"}, "url"),  # HTTPS unless allow-listed
        ({"url": "https://10.0.0.7/hook"}, "url"),  # a private address
        ({"url": "https://169.254.169.254/latest"}, "url"),  # cloud metadata
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "ftp://hooks.example.com/"}, "url"),
        ({"url": ""}, "url"),
        ({"url": HOOK, "authentication": {"scheme": ""}}, "authentication.scheme"),
        (
            {
                "url": HOOK,
                "authentication": {"scheme": "Bearer", "credentials": "a\r\nb"},
            },
            "authentication",
        ),
        ({"url": HOOK + "/" + "x" * 2100}, "url"),
        ({"url": HOOK, "id": "i" * 257}, "id"),
        ({"url": HOOK, "token": "t" * 4097}, "token"),
        (
            {
                "url": HOOK,
                "authentication": {"scheme": "Bearer", "credentials": "c" * 4097},
            },
            "authentication",
        ),
    ],
)
def test_configs_that_cannot_be_delivered_are_refused(
    pwire: Wire, config: dict[str, Any], field: str
) -> None:
    task = new_task(pwire)
    with pytest.raises(WireError) as err:
        pwire.call("CreateTaskPushNotificationConfig", {"taskId": task["id"], **config})
    assert err.value.reason == "INVALID_PARAMS"
    assert err.value.message.startswith(field)
    # The same config given inline refuses the message before anything runs.
    with pytest.raises(WireError) as inline:
        new_task(pwire, "echo x", taskPushNotificationConfig=config)
    assert inline.value.reason == "INVALID_PARAMS"
    assert inline.value.message.startswith(
        f"configuration.taskPushNotificationConfig.{field}"
    )


@pytest.mark.parametrize("text", ["echo done", "ask"])
def test_an_inline_config_is_stored_with_the_new_task(pwire: Wire, text: str) -> None:
    task = new_task(pwire, text, taskPushNotificationConfig={"url": HOOK, "id": "in"})
    listed = pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert [(c["id"], c["taskId"], c["url"]) for c in listed["configs"]] == [
        ("in", task["id"], HOOK)
    ]


def test_an_inline_config_with_a_follow_up_joins_the_task(pwire: Wire) -> None:
    task = new_task(pwire, "ask")
    follow_up = user_message("Ada", taskId=task["id"], contextId=task["contextId"])
    pwire.call(
        "SendMessage",
        {
            "message": follow_up,
            "configuration": {
                "taskPushNotificationConfig": {"url": HOOK, "id": "later"}
            },
        },
    )
    listed = pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert [c["id"] for c in listed["configs"]] == ["later"]


def test_a_returned_immediately_task_has_its_inline_config(pwire: Wire) -> None:
    task = new_task(
        pwire,
        "echo quick",
        returnImmediately=True,
        taskPushNotificationConfig={"url": HOOK, "id": "quick"},
    )
    listed = pwire.call("ListTaskPushNotificationConfigs", {"taskId": task["id"]})
    assert [c["id"] for c in listed["configs"]] == ["quick"]


def test_configs_are_sealed_at_rest(pwire: Wire, db: Path) -> None:
    task = new_task(pwire)
    pwire.call(
        "CreateTaskPushNotificationConfig",
        {
            "taskId": task["id"],
            "id": "sealed",
            "url": HOOK,
            "token": "tok-" + SECRET,
            "authentication": {"scheme": "Bearer", "credentials": SECRET},
        },
    )
    with sqlite3.connect(db) as conn:
        (data,) = conn.execute(
            "SELECT data FROM push_configs WHERE task_id = ? AND config_id = ?",
            (task["id"], "sealed"),
        ).fetchone()
    assert SECRET.encode() not in data
    assert b"hooks.example.com" not in data


KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdefgh"}


def test_another_caller_sees_no_config(tmp_path: Path, http: httpx.Client) -> None:
    ring = ApiKeyRing()
    for who, key in KEYS.items():
        ring.add(key, principal=who)
    agent = push_agent(
        security_schemes={"key": api_key_scheme("header", "X-API-Key")},
        security_requirements=(requirement(key=[]),),
    )
    app = A2AApp(
        agent,
        store=SQLiteTaskStore(tmp_path / "tasks.db"),
        auth={"key": ApiKeyVerifier(ring)},
        push=PushSettings(keys=[generate_key()]),
    )
    with serve(app) as url:
        alice = Wire(
            url, "HTTP+JSON", httpx.Client(headers={"X-API-Key": KEYS["alice"]})
        )
        bob = Wire(url, "HTTP+JSON", httpx.Client(headers={"X-API-Key": KEYS["bob"]}))
        with alice.http, bob.http:
            task = new_task(alice)
            created = alice.call(
                "CreateTaskPushNotificationConfig",
                {"taskId": task["id"], "id": "hers", "url": HOOK},
            )
            ref = {"taskId": task["id"], "id": created["id"]}
            for method, params in (
                ("GetTaskPushNotificationConfig", ref),
                ("ListTaskPushNotificationConfigs", {"taskId": task["id"]}),
                ("DeleteTaskPushNotificationConfig", ref),
                ("CreateTaskPushNotificationConfig", {**ref, "url": HOOK + "/bob"}),
            ):
                with pytest.raises(WireError) as err:
                    bob.call(method, params)
                assert err.value.reason == "TASK_NOT_FOUND", method
            # Bob's attempts changed nothing.
            assert alice.call("GetTaskPushNotificationConfig", ref) == created


def test_the_key_defaults_beside_a_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    first = Engine(push_agent(), store=SQLiteTaskStore(db))
    key_file = tmp_path / "tasks.db.push-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The next start (another process on the file) opens what the first sealed.
    again = Engine(push_agent(), store=SQLiteTaskStore(db))
    assert first.push is not None
    assert again.push is not None
    sealed = first.push.sealer.seal(CONFIG)
    assert again.push.sealer.open(sealed, task_id="t", config_id="c") == CONFIG
    # Nothing outlives the process: a key is made for it.
    assert Engine(push_agent()).push is not None
    assert Engine(push_agent(), store=SQLiteTaskStore(":memory:")).push is not None


def test_a_shared_store_needs_its_key_given() -> None:
    from accord.stores.postgres import PostgresTaskStore

    store = PostgresTaskStore("postgresql://127.0.0.1:5432/unused")
    with pytest.raises(ValueError, match="--push-key-file"):
        Engine(push_agent(), store=store)
    key = generate_key()
    engine = Engine(push_agent(), store=store, push=PushSettings(keys=[key]))
    assert engine.push is not None


CONFIG = TaskPushNotificationConfig(task_id="t", id="c", url=HOOK)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_configs_per_task": 0},
        {"give_up_after": 0},
        {"concurrency": 0},
        {"retry_base": 0},
        {"lease_seconds": -1},
        {"attempt_timeout": 0},
    ],
)
def test_settings_are_checked(bad: dict[str, Any]) -> None:
    (name,) = bad
    with pytest.raises(ValueError, match=name):
        PushSettings(**bad)


def test_v03_clients_configure_push_with_their_methods(
    push_url: str, http: httpx.Client
) -> None:
    def rpc(method: str, params: dict[str, Any]) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        answer = http.post(push_url + "/", json=body).json()  # no A2A-Version: v0.3
        assert "error" not in answer, answer
        return answer["result"]

    message = {
        "kind": "message",
        "messageId": str(uuid.uuid4()),
        "role": "user",
        "parts": [{"kind": "text", "text": "ask"}],
    }
    task = rpc("message/send", {"message": message})
    assert task["kind"] == "task"
    config = {"id": "old", "url": HOOK, "token": "tok"}
    stored = rpc(
        "tasks/pushNotificationConfig/set",
        {"taskId": task["id"], "pushNotificationConfig": config},
    )
    assert stored["taskId"] == task["id"]
    assert stored["pushNotificationConfig"]["url"] == HOOK
    got = rpc(
        "tasks/pushNotificationConfig/get",
        {"id": task["id"], "pushNotificationConfigId": "old"},
    )
    assert got == stored
    assert rpc("tasks/pushNotificationConfig/list", {"id": task["id"]}) == [stored]
    gone = rpc(
        "tasks/pushNotificationConfig/delete",
        {"id": task["id"], "pushNotificationConfigId": "old"},
    )
    assert gone is None
    assert rpc("tasks/pushNotificationConfig/list", {"id": task["id"]}) == []
