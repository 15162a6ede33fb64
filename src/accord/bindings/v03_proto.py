"""A2A v0.3's protobuf shapes (its HTTP+JSON and gRPC bindings), as plain JSON (sans-IO).

v0.3 served HTTP+JSON and gRPC from one proto (package ``a2a.v1``): REST bodies are its
ProtoJSON. Those shapes differ from v0.3's JSON-RPC ones (``kind`` discriminators,
lowercase enums), which :mod:`accord.bindings.v03` already maps onto v1.0. This module
maps between the two v0.3 forms, both ways, so that each v0.3 binding is one step away
from the JSON-RPC form and two from v1.0:

* requests: :func:`request_in` turns a v0.3 proto request (``{"name": "tasks/t-1"}``,
  ``{"message": {"content": [...]}}``) into the v0.3 JSON-RPC method and ``params``;
* answers: :func:`result_out` and :func:`event_out` turn v0.3 JSON-RPC results and
  stream events into the proto's ProtoJSON (``SendMessageResponse``, ``Task``,
  ``StreamResponse``, ``TaskPushNotificationConfig``...);
* calling a v0.3 agent, the reverse: :func:`request_out`, :func:`result_in`,
  :func:`event_in`.

Differences handled: a message's parts are ``content``; a part is ``{"text"}``,
``{"file": {"fileWithUri" | "fileWithBytes", "mimeType", "name"}}`` or
``{"data": {"data": {...}}}``; enums are ``TASK_STATE_CANCELLED`` (two Ls) and
``ROLE_USER``; tasks and push configs are named by resource names
(``tasks/{id}``, ``tasks/{id}/pushNotificationConfigs/{configId}``); a push config's
``pushNotification`` is JSON-RPC's ``pushNotificationConfig``. Malformed input is passed
on as it is, so the v1.0 validation names what is wrong with it.
"""

from __future__ import annotations

from typing import Any

from accord.errors import InvalidParamsError

__all__ = [
    "STATES",
    "card_out",
    "event_in",
    "event_out",
    "request_in",
    "request_out",
    "result_in",
    "result_out",
]

#: v0.3 JSON-RPC state -> v0.3 proto TaskState.
STATES: dict[str, str] = {
    "unknown": "TASK_STATE_UNSPECIFIED",
    "submitted": "TASK_STATE_SUBMITTED",
    "working": "TASK_STATE_WORKING",
    "completed": "TASK_STATE_COMPLETED",
    "failed": "TASK_STATE_FAILED",
    "canceled": "TASK_STATE_CANCELLED",
    "input-required": "TASK_STATE_INPUT_REQUIRED",
    "rejected": "TASK_STATE_REJECTED",
    "auth-required": "TASK_STATE_AUTH_REQUIRED",
}
_ROLES = {"user": "ROLE_USER", "agent": "ROLE_AGENT"}
_ROLES_IN = {v: k for k, v in _ROLES.items()}
_CONFIGS = "pushNotificationConfigs"


def _copy(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: source[k] for k in keys if k in source}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _json_names(value: Any) -> Any:
    """One object's keys in their JSON names: ProtoJSON readers accept the proto
    field names too (``message_id``), which the reference SDK's v0.3 REST client
    sends. Shallow: each reader calls it on its own object, so Struct values
    (``metadata``, a data part's ``data``) keep their keys."""
    if not isinstance(value, dict) or not any("_" in k for k in value):
        return value
    return {(_camel(k) if "_" in k else k): v for k, v in value.items()}


# --- requests: proto -> JSON-RPC ------------------------------------------------------


def _task_name(name: Any) -> str:
    """The task id of ``tasks/{id}``."""
    if isinstance(name, str):
        kind, _, task_id = name.partition("/")
        if kind == "tasks" and task_id and "/" not in task_id:
            return task_id
    raise InvalidParamsError(
        f"Invalid resource name {str(name)[:100]!r}: expected tasks/{{id}}",
        field_violations=[("name", "expected tasks/{id}")],
    )


def _config_name(name: Any) -> tuple[str, str]:
    """The task and config ids of ``tasks/{id}/pushNotificationConfigs/{configId}``."""
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) == 4 and parts[0] == "tasks" and parts[2] == _CONFIGS and all(parts):
        return parts[1], parts[3]
    raise InvalidParamsError(
        f"Invalid resource name {str(name)[:100]!r}: expected "
        "tasks/{id}/pushNotificationConfigs/{configId}",
        field_violations=[("name", "expected tasks/{id}/pushNotificationConfigs/{id}")],
    )


def request_in(method: str, request: Any) -> Any:
    """The v0.3 JSON-RPC ``params`` of a v0.3 proto request for JSON-RPC ``method``.

    ``method`` is the v0.3 JSON-RPC method of the rpc (``tasks/get`` for
    ``GetTask``...); REST builds the same proto request from its path and body.

    Raises:
        InvalidParamsError: a resource name is not the one the method needs.
    """
    if not isinstance(request, dict):
        return request
    request = _json_names(request)
    if method in ("message/send", "message/stream"):
        out = _copy(request, ("metadata",))
        message = request.get("message", request.get("request"))  # json_name, name
        if message is not None:
            out["message"] = _message_in(message)
        if "configuration" in request:
            out["configuration"] = _configuration_in(request["configuration"])
        return out
    if method == "tasks/get":
        return {
            "id": _task_name(request.get("name")),
            **_copy(request, ("historyLength",)),
        }
    if method in ("tasks/cancel", "tasks/resubscribe"):
        return {"id": _task_name(request.get("name"))}
    if method == "tasks/pushNotificationConfig/set":
        config = _json_names(_obj(request.get("config")))
        push = _push_in(_json_names(_obj(config.get("pushNotificationConfig"))))
        if request.get("configId") and "id" not in push:
            push["id"] = request["configId"]
        return {
            "taskId": _task_name(request.get("parent")),
            "pushNotificationConfig": push,
        }
    if method in (
        "tasks/pushNotificationConfig/get",
        "tasks/pushNotificationConfig/delete",
    ):
        task_id, config_id = _config_name(request.get("name"))
        return {"id": task_id, "pushNotificationConfigId": config_id}
    if method == "tasks/pushNotificationConfig/list":
        return {"id": _task_name(request.get("parent"))}
    return {}


def _message_in(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    message = _json_names(message)
    out: dict[str, Any] = {"kind": "message", **_copy(message, ("messageId",))}
    role = message.get("role")
    out["role"] = _ROLES_IN.get(role, role) if isinstance(role, str) else role
    content = message.get("content", [])
    out["parts"] = (
        [_part_in(p) for p in content] if isinstance(content, list) else content
    )
    out.update(_copy(message, ("contextId", "taskId", "metadata", "extensions")))
    return out


def _part_in(part: Any) -> Any:
    if not isinstance(part, dict):
        return part
    if "text" in part:
        out: dict[str, Any] = {"kind": "text", "text": part["text"]}
    elif isinstance(part.get("file"), dict):
        file = _json_names(part["file"])
        v03: dict[str, Any] = {}
        if "fileWithUri" in file:
            v03["uri"] = file["fileWithUri"]
        if "fileWithBytes" in file:
            v03["bytes"] = file["fileWithBytes"]
        if "mimeType" in file:
            v03["mimeType"] = file["mimeType"]
        if "name" in file:
            v03["name"] = file["name"]
        out = {"kind": "file", "file": v03}
    elif isinstance(part.get("data"), dict):
        out = {"kind": "data", "data": part["data"].get("data", {})}
    else:
        return part
    out.update(_copy(part, ("metadata",)))
    return out


def _configuration_in(config: Any) -> Any:
    if not isinstance(config, dict):
        return config
    config = _json_names(config)
    out = _copy(config, ("acceptedOutputModes", "historyLength", "blocking"))
    if isinstance(config.get("pushNotification"), dict):
        out["pushNotificationConfig"] = _push_in(
            _json_names(config["pushNotification"])
        )
    return out


def _push_in(push: dict[str, Any]) -> dict[str, Any]:
    return _copy(push, ("id", "url", "token", "authentication"))


# --- answers: JSON-RPC -> proto -------------------------------------------------------


def result_out(method: str, result: Any) -> Any:
    """The v0.3 proto ProtoJSON of a v0.3 JSON-RPC ``result`` of ``method``."""
    if method == "message/send":
        kind = _obj(result).get("kind")
        if kind == "message":
            return {"message": _message_out(result)}
        return {"task": _task_out(result)}
    if method in ("tasks/get", "tasks/cancel"):
        return _task_out(result)
    if method in (
        "tasks/pushNotificationConfig/set",
        "tasks/pushNotificationConfig/get",
    ):
        return _push_config_out(result)
    if method == "tasks/pushNotificationConfig/list":
        configs = result if isinstance(result, list) else []
        return {"configs": [_push_config_out(c) for c in configs]}
    if method == "tasks/pushNotificationConfig/delete":
        return {}
    return result


def event_out(event: Any) -> Any:
    """The v0.3 ``StreamResponse`` ProtoJSON of a v0.3 JSON-RPC stream event."""
    value = _obj(event)
    kind = value.get("kind")
    if kind == "task":
        return {"task": _task_out(value)}
    if kind == "message":
        return {"message": _message_out(value)}
    if kind == "status-update":
        update = _copy(value, ("taskId", "contextId"))
        update["status"] = _status_out(_obj(value.get("status")))
        update.update(_copy(value, ("final", "metadata")))
        return {"statusUpdate": update}
    if kind == "artifact-update":
        update = _copy(value, ("taskId", "contextId"))
        update["artifact"] = _artifact_out(_obj(value.get("artifact")))
        update.update(_copy(value, ("append", "lastChunk", "metadata")))
        return {"artifactUpdate": update}
    return event


def _task_out(task: Any) -> Any:
    if not isinstance(task, dict):
        return task
    out = _copy(task, ("id", "contextId"))
    out["status"] = _status_out(_obj(task.get("status")))
    if task.get("artifacts"):
        out["artifacts"] = [_artifact_out(_obj(a)) for a in task["artifacts"]]
    if task.get("history"):
        out["history"] = [_message_out(_obj(m)) for m in task["history"]]
    out.update(_copy(task, ("metadata",)))
    return out


def _status_out(status: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "state": STATES.get(status.get("state", ""), "TASK_STATE_UNSPECIFIED")
    }
    if isinstance(status.get("message"), dict):
        out["message"] = _message_out(status["message"])
    out.update(_copy(status, ("timestamp",)))
    return out


def _message_out(message: dict[str, Any]) -> dict[str, Any]:
    out = _copy(message, ("messageId", "contextId", "taskId"))
    out["role"] = _ROLES.get(message.get("role", ""), "ROLE_UNSPECIFIED")
    out["content"] = [_part_out(_obj(p)) for p in message.get("parts", [])]
    out.update(_copy(message, ("metadata", "extensions")))
    return out


def _artifact_out(artifact: dict[str, Any]) -> dict[str, Any]:
    out = _copy(artifact, ("artifactId", "name", "description"))
    out["parts"] = [_part_out(_obj(p)) for p in artifact.get("parts", [])]
    out.update(_copy(artifact, ("metadata", "extensions")))
    return out


def _part_out(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("kind")
    if kind == "file":
        file = _obj(part.get("file"))
        proto: dict[str, Any] = {}
        if "uri" in file:
            proto["fileWithUri"] = file["uri"]
        if "bytes" in file:
            proto["fileWithBytes"] = file["bytes"]
        proto.update(_copy(file, ("mimeType", "name")))
        out: dict[str, Any] = {"file": proto}
    elif kind == "data":
        out = {"data": {"data": part.get("data", {})}}
    else:
        out = {"text": part.get("text", "")}
    out.update(_copy(part, ("metadata",)))
    return out


def _push_config_out(config: Any) -> Any:
    value = _obj(config)
    push = dict(_obj(value.get("pushNotificationConfig")))
    name = f"tasks/{value.get('taskId', '')}/{_CONFIGS}/{push.get('id', '')}"
    return {"name": name, "pushNotificationConfig": push}


def card_out(card: dict[str, Any], url: str, transport: str) -> dict[str, Any]:
    """The v0.3 proto ``AgentCard`` for a v1.0 card's ProtoJSON, served at ``url``.

    v0.3 names the preferred interface at the top (``url``, ``preferredTransport``)
    and the rest in ``additionalInterfaces``; its security lists and scheme unions
    have v1.0's shapes under other names.
    """
    out: dict[str, Any] = {
        "protocolVersion": "0.3.0",
        **_copy(card, ("name", "description")),
    }
    out["url"] = url
    out["preferredTransport"] = transport
    out["additionalInterfaces"] = [
        {"url": i.get("url", ""), "transport": i.get("protocolBinding", "")}
        for i in card.get("supportedInterfaces", [])
        if isinstance(i, dict)
    ]
    out.update(_copy(card, ("provider", "version", "documentationUrl")))
    capabilities = _obj(card.get("capabilities"))
    out["capabilities"] = _copy(
        capabilities, ("streaming", "pushNotifications", "extensions")
    )
    out.update(_copy(card, ("securitySchemes",)))
    if "securityRequirements" in card:
        out["security"] = card["securityRequirements"]
    out.update(_copy(card, ("defaultInputModes", "defaultOutputModes")))
    out["skills"] = [
        {
            **_copy(_obj(s), ("id", "name", "description", "tags", "examples")),
            **_copy(_obj(s), ("inputModes", "outputModes")),
            **(
                {"security": s["securityRequirements"]}
                if "securityRequirements" in _obj(s)
                else {}
            ),
        }
        for s in card.get("skills", [])
    ]
    if capabilities.get("extendedAgentCard"):
        out["supportsAuthenticatedExtendedCard"] = True
    out.update(_copy(card, ("signatures", "iconUrl")))
    return out


# --- calling a v0.3 agent: JSON-RPC params -> proto requests, proto answers back ------


def request_out(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The v0.3 proto request (ProtoJSON) for v0.3 JSON-RPC ``method``'s ``params``."""
    if method in ("message/send", "message/stream"):
        out = _copy(params, ("metadata",))
        out["message"] = _message_out(_obj(params.get("message")))
        config = _obj(params.get("configuration"))
        if config:
            proto = _copy(config, ("acceptedOutputModes", "historyLength", "blocking"))
            if isinstance(config.get("pushNotificationConfig"), dict):
                proto["pushNotification"] = config["pushNotificationConfig"]
            out["configuration"] = proto
        return out
    if method == "tasks/get":
        return {
            "name": f"tasks/{params.get('id', '')}",
            **_copy(params, ("historyLength",)),
        }
    if method in ("tasks/cancel", "tasks/resubscribe"):
        return {"name": f"tasks/{params.get('id', '')}"}
    if method == "tasks/pushNotificationConfig/set":
        config = _push_config_out(params)
        push = config["pushNotificationConfig"]
        return {
            "parent": f"tasks/{params.get('taskId', '')}",
            "configId": push.get("id", ""),
            "config": config,
        }
    if method in (
        "tasks/pushNotificationConfig/get",
        "tasks/pushNotificationConfig/delete",
    ):
        task_id = params.get("id", "")
        config_id = params.get("pushNotificationConfigId", "")
        return {"name": f"tasks/{task_id}/{_CONFIGS}/{config_id}"}
    if method == "tasks/pushNotificationConfig/list":
        return {"parent": f"tasks/{params.get('id', '')}"}
    return {}


def result_in(method: str, result: Any) -> Any:
    """The v0.3 JSON-RPC result for a v0.3 proto answer (ProtoJSON) of ``method``."""
    value = _json_names(_obj(result))
    if method == "message/send":
        if "message" in value or "msg" in value:
            return _message_in(value.get("message", value.get("msg")))
        return _task_in(value.get("task"))
    if method in ("tasks/get", "tasks/cancel"):
        return _task_in(value)
    if method in (
        "tasks/pushNotificationConfig/set",
        "tasks/pushNotificationConfig/get",
    ):
        return _push_config_in(value)
    if method == "tasks/pushNotificationConfig/list":
        configs = value.get("configs", [])
        return (
            [_push_config_in(c) for c in configs] if isinstance(configs, list) else []
        )
    if method == "tasks/pushNotificationConfig/delete":
        return None
    return result


def event_in(event: Any) -> Any:
    """The v0.3 JSON-RPC stream event for a v0.3 ``StreamResponse`` (ProtoJSON)."""
    value = _json_names(_obj(event))
    if "task" in value:
        return _task_in(value["task"])
    if "message" in value or "msg" in value:
        return _message_in(value.get("message", value.get("msg")))
    for key, kind in (
        ("statusUpdate", "status-update"),
        ("artifactUpdate", "artifact-update"),
    ):
        if key in value:
            update = _json_names(_obj(value[key]))
            out = {"kind": kind, **_copy(update, ("taskId", "contextId"))}
            if kind == "status-update":
                out["status"] = _status_in(update.get("status"))
                out.update(_copy(update, ("final", "metadata")))
            else:
                out["artifact"] = _artifact_in(update.get("artifact"))
                out.update(_copy(update, ("append", "lastChunk", "metadata")))
            return out
    return event


_STATES_IN = {v: k for k, v in STATES.items()}


def _task_in(task: Any) -> Any:
    if not isinstance(task, dict):
        return task
    task = _json_names(task)
    out: dict[str, Any] = {"kind": "task", **_copy(task, ("id", "contextId"))}
    out["status"] = _status_in(task.get("status"))
    if isinstance(task.get("artifacts"), list):
        out["artifacts"] = [_artifact_in(a) for a in task["artifacts"]]
    if isinstance(task.get("history"), list):
        out["history"] = [_message_in(m) for m in task["history"]]
    out.update(_copy(task, ("metadata",)))
    return out


def _status_in(status: Any) -> dict[str, Any]:
    value = _json_names(_obj(status))
    state = value.get("state", "")
    out: dict[str, Any] = {"state": _STATES_IN.get(state, "unknown")}
    message = value.get("message", value.get("update"))
    if isinstance(message, dict):
        out["message"] = _message_in(message)
    out.update(_copy(value, ("timestamp",)))
    return out


def _artifact_in(artifact: Any) -> Any:
    if not isinstance(artifact, dict):
        return artifact
    artifact = _json_names(artifact)
    out = _copy(artifact, ("artifactId", "name", "description"))
    parts = artifact.get("parts", [])
    out["parts"] = [_part_in(p) for p in parts] if isinstance(parts, list) else parts
    out.update(_copy(artifact, ("metadata", "extensions")))
    return out


def _push_config_in(config: Any) -> Any:
    value = _json_names(_obj(config))
    name = value.get("name", "")
    parts = name.split("/") if isinstance(name, str) else []
    task_id = parts[1] if len(parts) > 1 and parts[0] == "tasks" else ""
    push = _json_names(_obj(value.get("pushNotificationConfig")))
    return {"taskId": task_id, "pushNotificationConfig": _push_in(push)}
