"""A2A v0.3 over JSON-RPC: its methods and JSON shapes, mapped onto v1.0's (sans-IO).

Theory of operation. A request that says no ``A2A-Version`` (or ``0.3``) speaks v0.3
(spec §3.6.2). Its JSON-RPC methods (``message/send``, ``tasks/get``, ...) map one to
one onto v1.0 operations (:data:`METHODS`); its objects differ in shape: ``kind``
discriminators, lowercase enums, parts as ``{"kind": "file", "file": {...}}``, a
``blocking`` flag where v1.0 has ``returnImmediately`` (unset means not blocking, see
``_configuration_to_v1``), and results that are the bare
Task or Message instead of v1.0's wrappers. This module only rewrites plain JSON
values, both ways:

* :func:`params_from_v03` turns a v0.3 method's ``params`` into the ProtoJSON of the v1.0
  request, which the JSON-RPC binding then validates as it validates any request;
* :func:`result_to_v03` and :func:`event_to_v03` turn the ProtoJSON of a v1.0 result or
  stream event into what a v0.3 client expects;
* calling a v0.3 agent, the reverse: :func:`params_to_v03`, :func:`result_from_v03`,
  :func:`event_from_v03`; its card is :mod:`accord.bindings.v03_card`'s.

The engine serves both versions with the same tasks: a task created over one version
is read, cancelled and followed over the other. What v0.3 cannot say is dropped
(``tenant``; ``filename`` and ``mediaType`` of text and data parts) and ListTasks has
no v0.3 method. A v1.0 data part whose value is not an object travels in v0.3 as
``{"value": ...}`` with ``metadata.data_part_compat: true``, and comes back unwrapped
(the convention the official SDK uses). Malformed input is passed through unchanged,
so the v1.0 validation names what is wrong with it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "METHODS",
    "METHOD_OF",
    "STATES",
    "STATES_V1",
    "VERSION",
    "event_from_v03",
    "event_to_v03",
    "params_from_v03",
    "params_to_v03",
    "result_from_v03",
    "result_to_v03",
]

#: The protocol version these shapes belong to (``A2A-Version``, spec §3.6).
VERSION = "0.3"

#: v0.3 JSON-RPC method -> v1.0 operation (spec §9.4 of each version).
METHODS: dict[str, str] = {
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask",
    "tasks/resubscribe": "SubscribeToTask",
    "tasks/pushNotificationConfig/set": "CreateTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/get": "GetTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/list": "ListTaskPushNotificationConfigs",
    "tasks/pushNotificationConfig/delete": "DeleteTaskPushNotificationConfig",
    "agent/getAuthenticatedExtendedCard": "GetExtendedAgentCard",
}

#: v1.0 TaskState -> v0.3 state.
STATES: dict[str, str] = {
    "TASK_STATE_UNSPECIFIED": "unknown",
    "TASK_STATE_SUBMITTED": "submitted",
    "TASK_STATE_WORKING": "working",
    "TASK_STATE_INPUT_REQUIRED": "input-required",
    "TASK_STATE_COMPLETED": "completed",
    "TASK_STATE_CANCELED": "canceled",
    "TASK_STATE_FAILED": "failed",
    "TASK_STATE_REJECTED": "rejected",
    "TASK_STATE_AUTH_REQUIRED": "auth-required",
}
_ROLES_V1 = {"user": "ROLE_USER", "agent": "ROLE_AGENT"}
_ROLES_V03 = {v: k for k, v in _ROLES_V1.items()}
#: The data-part wrapping marker (module doc).
_DATA_COMPAT = "data_part_compat"
#: States after which a v0.3 message stream ends (``final: true``): terminal, or
#: interrupted (the turn is over, spec §3.1.2).
_TURN_ENDS = frozenset(
    {
        "TASK_STATE_COMPLETED",
        "TASK_STATE_CANCELED",
        "TASK_STATE_FAILED",
        "TASK_STATE_REJECTED",
        "TASK_STATE_INPUT_REQUIRED",
        "TASK_STATE_AUTH_REQUIRED",
    }
)
_TERMINAL = frozenset(
    {
        "TASK_STATE_COMPLETED",
        "TASK_STATE_CANCELED",
        "TASK_STATE_FAILED",
        "TASK_STATE_REJECTED",
    }
)


def _copy(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: source[k] for k in keys if k in source}


# --- v0.3 -> v1.0 (requests) -----------------------------------------------------------


def params_from_v03(method: str, params: Any) -> Any:
    """The v1.0 request ProtoJSON for v0.3 ``method``'s ``params`` (a known method)."""
    if not isinstance(params, dict):
        return params
    if method in ("message/send", "message/stream"):
        out = _copy(params, ("metadata",))
        if "message" in params:
            out["message"] = _message_to_v1(params["message"])
        config = params.get("configuration", {})
        if method == "message/send" or "configuration" in params:
            out["configuration"] = _configuration_to_v1(config)
        return out
    if method == "tasks/get":
        return _copy(params, ("id", "historyLength"))
    if method == "tasks/cancel":
        return _copy(params, ("id", "metadata"))
    if method == "tasks/resubscribe":
        return _copy(params, ("id",))
    if method == "tasks/pushNotificationConfig/set":
        out = _copy(params, ("taskId",))
        config = params.get("pushNotificationConfig")
        if isinstance(config, dict):
            out.update(_push_config_to_v1(config))
        return out
    if method in (
        "tasks/pushNotificationConfig/get",
        "tasks/pushNotificationConfig/delete",
    ):
        out = {"taskId": params["id"]} if "id" in params else {}
        if "pushNotificationConfigId" in params:
            out["id"] = params["pushNotificationConfigId"]
        return out
    if method == "tasks/pushNotificationConfig/list":
        return {"taskId": params["id"]} if "id" in params else {}
    return {}  # agent/getAuthenticatedExtendedCard takes nothing


def _message_to_v1(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    keys = (
        "messageId",
        "contextId",
        "taskId",
        "referenceTaskIds",
        "extensions",
        "metadata",
    )
    out = _copy(message, keys)
    if "role" in message:
        out["role"] = _ROLES_V1.get(message["role"], message["role"])
    parts = message.get("parts")
    if parts is not None:
        out["parts"] = (
            [_part_to_v1(p) for p in parts] if isinstance(parts, list) else parts
        )
    return out


def _part_to_v1(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    out = _copy(part, ("metadata",))
    kind = part.get("kind")
    if kind == "file" or (kind is None and "file" in part):
        file = part.get("file")
        if not isinstance(file, dict):
            out["raw"] = file  # refused by the validation, naming the field
            return out
        if "bytes" in file:
            out["raw"] = file["bytes"]
        if "uri" in file:
            out["url"] = file["uri"]
        if "mimeType" in file:
            out["mediaType"] = file["mimeType"]
        if "name" in file:
            out["filename"] = file["name"]
        return out
    if kind == "data" or (kind is None and "data" in part):
        data = part.get("data")
        meta = out.get("metadata")
        if isinstance(meta, dict) and meta.get(_DATA_COMPAT) is True:
            if isinstance(data, dict) and set(data) == {"value"}:
                data = data["value"]
            meta = {k: v for k, v in meta.items() if k != _DATA_COMPAT}
            if meta:
                out["metadata"] = meta
            else:
                del out["metadata"]
        out["data"] = data
        return out
    if "text" in part:
        out["text"] = part["text"]
    return out


def _configuration_to_v1(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    out = _copy(config, ("acceptedOutputModes", "historyLength"))
    # v1.0 says returnImmediately where v0.3 said blocking, which v0.3 left optional
    # with no default: a message/send without it answers at once (the v0.3
    # conformance suite sends none and then cancels or follows the running task).
    if config.get("blocking") is not True:
        out["returnImmediately"] = True
    push = config.get("pushNotificationConfig")
    if isinstance(push, dict):
        out["taskPushNotificationConfig"] = _push_config_to_v1(push)
    return out


def _push_config_to_v1(config: dict[str, Any]) -> dict[str, Any]:
    out = _copy(config, ("id", "url", "token"))
    auth = config.get("authentication")
    if isinstance(auth, dict):
        schemes = auth.get("schemes")
        v1: dict[str, Any] = _copy(auth, ("credentials",))
        if isinstance(schemes, list) and schemes:
            v1["scheme"] = schemes[0]
        out["authentication"] = v1
    return out


# --- v1.0 -> v0.3 (results) ------------------------------------------------------------


def result_to_v03(operation: str, result: Any) -> Any:
    """The v0.3 result for the ProtoJSON ``result`` of v1.0 ``operation``."""
    if operation == "SendMessage" and isinstance(result, dict):
        if "task" in result:
            return _task_to_v03(result["task"])
        if "message" in result:
            return _message_to_v03(result["message"])
        return result
    if operation in ("GetTask", "CancelTask"):
        return _task_to_v03(result)
    if operation in (
        "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig",
    ):
        return _push_config_to_v03(result)
    if operation == "ListTaskPushNotificationConfigs" and isinstance(result, dict):
        return [_push_config_to_v03(c) for c in result.get("configs", [])]
    if operation == "DeleteTaskPushNotificationConfig":
        return None
    return result  # the extended card: served as v1.0 describes it


def event_to_v03(event: dict[str, Any], *, subscription: bool = False) -> Any:
    """The v0.3 form of one v1.0 StreamResponse; ``final`` marks the event after
    which the stream ends (a message stream: the turn's end; a ``subscription``
    (``tasks/resubscribe``): a terminal state)."""
    if "task" in event:
        return _task_to_v03(event["task"])
    if "message" in event:
        return _message_to_v03(event["message"])
    if "statusUpdate" in event:
        update = event["statusUpdate"]
        state = update.get("status", {}).get("state", "")
        ends = _TERMINAL if subscription else _TURN_ENDS
        out = {"kind": "status-update", **_copy(update, ("taskId", "contextId"))}
        out["status"] = _status_to_v03(update.get("status", {}))
        out["final"] = state in ends
        out.update(_copy(update, ("metadata",)))
        return out
    if "artifactUpdate" in event:
        update = event["artifactUpdate"]
        out = {"kind": "artifact-update", **_copy(update, ("taskId", "contextId"))}
        out["artifact"] = _artifact_to_v03(update.get("artifact", {}))
        out.update(_copy(update, ("append", "lastChunk", "metadata")))
        return out
    return event


def _task_to_v03(task: Any) -> Any:
    if not isinstance(task, dict):
        return task
    out: dict[str, Any] = {"kind": "task", **_copy(task, ("id", "contextId"))}
    out["status"] = _status_to_v03(task.get("status", {}))
    if "history" in task:
        out["history"] = [_message_to_v03(m) for m in task["history"]]
    if "artifacts" in task:
        out["artifacts"] = [_artifact_to_v03(a) for a in task["artifacts"]]
    out.update(_copy(task, ("metadata",)))
    return out


def _status_to_v03(status: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"state": STATES.get(status.get("state", ""), "unknown")}
    if "message" in status:
        out["message"] = _message_to_v03(status["message"])
    out.update(_copy(status, ("timestamp",)))
    return out


def _message_to_v03(message: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "message", **_copy(message, ("messageId",))}
    out["role"] = _ROLES_V03.get(message.get("role", ""), "agent")
    out["parts"] = [_part_to_v03(p) for p in message.get("parts", [])]
    keys = ("contextId", "taskId", "referenceTaskIds", "extensions", "metadata")
    out.update(_copy(message, keys))
    return out


def _artifact_to_v03(artifact: dict[str, Any]) -> dict[str, Any]:
    out = _copy(artifact, ("artifactId", "name", "description"))
    out["parts"] = [_part_to_v03(p) for p in artifact.get("parts", [])]
    out.update(_copy(artifact, ("metadata", "extensions")))
    return out


def _part_to_v03(part: dict[str, Any]) -> dict[str, Any]:
    meta = part.get("metadata")
    if "raw" in part or "url" in part:
        file: dict[str, Any] = {}
        if "raw" in part:
            file["bytes"] = part["raw"]
        else:
            file["uri"] = part["url"]
        if "mediaType" in part:
            file["mimeType"] = part["mediaType"]
        if "filename" in part:
            file["name"] = part["filename"]
        out: dict[str, Any] = {"kind": "file", "file": file}
    elif "data" in part:
        data = part["data"]
        if not isinstance(data, dict):
            data = {"value": data}
            meta = {**(meta or {}), _DATA_COMPAT: True}
        out = {"kind": "data", "data": data}
    else:
        out = {"kind": "text", "text": part.get("text", "")}
    if meta:
        out["metadata"] = meta
    return out


def _push_config_to_v03(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    push = _copy(config, ("id", "url", "token"))
    auth = config.get("authentication")
    if isinstance(auth, dict):
        v03: dict[str, Any] = {"schemes": [auth["scheme"]] if "scheme" in auth else []}
        v03.update(_copy(auth, ("credentials",)))
        push["authentication"] = v03
    return {**_copy(config, ("taskId",)), "pushNotificationConfig": push}


# --- calling a v0.3 agent: v1.0 requests -> v0.3, v0.3 results -> v1.0 ----------------

#: v1.0 operation -> v0.3 JSON-RPC method (ListTasks has none).
METHOD_OF: dict[str, str] = {op: method for method, op in METHODS.items()}
#: v0.3 state -> v1.0 TaskState (``unknown`` is UNSPECIFIED).
STATES_V1: dict[str, str] = {v: k for k, v in STATES.items()}


def params_to_v03(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """The v0.3 ``params`` for the ProtoJSON ``request`` of v1.0 ``operation``."""
    if operation in ("SendMessage", "SendStreamingMessage"):
        out = _copy(request, ("metadata",))
        if "message" in request:
            out["message"] = _message_to_v03(request["message"])
        config = request.get("configuration")
        if config is None and operation == "SendMessage":
            config = {}  # say blocking: v0.3 agents may not block unless told
        if isinstance(config, dict):
            v03: dict[str, Any] = _copy(
                config, ("acceptedOutputModes", "historyLength")
            )
            v03["blocking"] = not config.get("returnImmediately", False)
            push = config.get("taskPushNotificationConfig")
            if isinstance(push, dict):
                v03["pushNotificationConfig"] = _push_config_to_v03(push)[
                    "pushNotificationConfig"
                ]
            out["configuration"] = v03
        return out
    if operation == "GetTask":
        return _copy(request, ("id", "historyLength"))
    if operation == "CancelTask":
        return _copy(request, ("id", "metadata"))
    if operation == "SubscribeToTask":
        return _copy(request, ("id",))
    if operation == "CreateTaskPushNotificationConfig":
        made: dict[str, Any] = _push_config_to_v03(request)
        return made
    if operation in (
        "GetTaskPushNotificationConfig",
        "DeleteTaskPushNotificationConfig",
    ):
        out = {"id": request.get("taskId", "")}
        if "id" in request:
            out["pushNotificationConfigId"] = request["id"]
        return out
    if operation == "ListTaskPushNotificationConfigs":
        return {"id": request.get("taskId", "")}
    return {}


def result_from_v03(operation: str, result: Any) -> Any:
    """The v1.0 ProtoJSON of a v0.3 agent's ``result`` for v1.0 ``operation``."""
    if operation == "SendMessage" and isinstance(result, dict):
        if _kind(result) == "message":
            return {"message": _message_to_v1(result)}
        return {"task": _task_to_v1(result)}
    if operation in ("GetTask", "CancelTask"):
        return _task_to_v1(result)
    if operation in (
        "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig",
    ):
        return _push_result_to_v1(result)
    if operation == "ListTaskPushNotificationConfigs":
        configs = result if isinstance(result, list) else []
        return {"configs": [_push_result_to_v1(c) for c in configs]}
    if operation == "DeleteTaskPushNotificationConfig":
        return {}
    return result  # the extended card: see v03_card.card_to_v1


def event_from_v03(event: Any) -> Any:
    """The v1.0 StreamResponse ProtoJSON of one v0.3 stream event."""
    if not isinstance(event, dict):
        return event
    kind = _kind(event)
    if kind == "message":
        return {"message": _message_to_v1(event)}
    if kind == "status-update":
        update = _copy(event, ("taskId", "contextId", "metadata"))
        update["status"] = _status_to_v1(event.get("status"))
        return {"statusUpdate": update}
    if kind == "artifact-update":
        update = _copy(
            event, ("taskId", "contextId", "append", "lastChunk", "metadata")
        )
        update["artifact"] = _artifact_to_v1(event.get("artifact"))
        return {"artifactUpdate": update}
    return {"task": _task_to_v1(event)}


def _kind(value: dict[str, Any]) -> str:
    kind = value.get("kind")
    if isinstance(kind, str):
        return kind
    # Peers that omit ``kind``: a message has a messageId, a task an id.
    return "message" if "messageId" in value and "status" not in value else "task"


def _task_to_v1(task: Any) -> Any:
    if not isinstance(task, dict):
        return task
    out = _copy(task, ("id", "contextId", "metadata"))
    out["status"] = _status_to_v1(task.get("status"))
    if isinstance(task.get("history"), list):
        out["history"] = [_message_to_v1(m) for m in task["history"]]
    if isinstance(task.get("artifacts"), list):
        out["artifacts"] = [_artifact_to_v1(a) for a in task["artifacts"]]
    return out


def _status_to_v1(status: Any) -> Any:
    if not isinstance(status, dict):
        return status
    out = _copy(status, ("timestamp",))
    state = status.get("state")
    out["state"] = STATES_V1.get(state, state) if isinstance(state, str) else state
    if isinstance(status.get("message"), dict):
        out["message"] = _message_to_v1(status["message"])
    return out


def _artifact_to_v1(artifact: Any) -> Any:
    if not isinstance(artifact, dict):
        return artifact
    out = _copy(
        artifact, ("artifactId", "name", "description", "metadata", "extensions")
    )
    parts = artifact.get("parts")
    if isinstance(parts, list):
        out["parts"] = [_part_to_v1(p) for p in parts]
    return out


def _push_result_to_v1(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    inner = config.get("pushNotificationConfig")
    out = _copy(config, ("taskId",))
    if isinstance(inner, dict):
        out.update(_push_config_to_v1(inner))
    return out
