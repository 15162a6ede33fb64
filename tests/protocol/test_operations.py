"""The operations table against the proto service and spec §5.3."""

from __future__ import annotations

import re

import msgspec.inspect as mi
import pytest
from a2a.types import a2a_pb2

from accord import types as t
from accord.protocol import operations as ops
from accord.protocol.operations import Capability, RestRoute

SERVICE = a2a_pb2.DESCRIPTOR.services_by_name["A2AService"]
RPCS = {m.name: m for m in SERVICE.methods}

#: Spec §5.3: REST verb + path for each operation (tenant variants add a prefix).
REST = {
    "SendMessage": [("POST", "/message:send")],
    "SendStreamingMessage": [("POST", "/message:stream")],
    "GetTask": [("GET", "/tasks/{id}")],
    "ListTasks": [("GET", "/tasks")],
    "CancelTask": [("POST", "/tasks/{id}:cancel")],
    # Spec table POST, proto annotation GET: both are served (spec §11.3.2).
    "SubscribeToTask": [
        ("POST", "/tasks/{id}:subscribe"),
        ("GET", "/tasks/{id}:subscribe"),
    ],
    "CreateTaskPushNotificationConfig": [
        ("POST", "/tasks/{taskId}/pushNotificationConfigs")
    ],
    "GetTaskPushNotificationConfig": [
        ("GET", "/tasks/{taskId}/pushNotificationConfigs/{id}")
    ],
    "ListTaskPushNotificationConfigs": [
        ("GET", "/tasks/{taskId}/pushNotificationConfigs")
    ],
    "DeleteTaskPushNotificationConfig": [
        ("DELETE", "/tasks/{taskId}/pushNotificationConfigs/{id}")
    ],
    "GetExtendedAgentCard": [("GET", "/extendedAgentCard")],
}

#: Spec §3.3.4: the card capability each operation depends on.
REQUIRES = {
    "SendStreamingMessage": Capability.STREAMING,
    "SubscribeToTask": Capability.STREAMING,
    "CreateTaskPushNotificationConfig": Capability.PUSH_NOTIFICATIONS,
    "GetTaskPushNotificationConfig": Capability.PUSH_NOTIFICATIONS,
    "ListTaskPushNotificationConfigs": Capability.PUSH_NOTIFICATIONS,
    "DeleteTaskPushNotificationConfig": Capability.PUSH_NOTIFICATIONS,
    "GetExtendedAgentCard": Capability.EXTENDED_AGENT_CARD,
}


def _pb_name(full_name: str) -> str:
    # Our Empty mirrors google.protobuf.Empty; everything else lives in lf.a2a.v1.
    return "Empty" if full_name == "google.protobuf.Empty" else full_name.split(".")[-1]


def test_eleven_operations_named_as_the_grpc_rpcs() -> None:
    names = [o.name for o in ops.OPERATIONS]
    assert len(names) == 11
    assert len(set(names)) == 11
    assert set(names) == set(RPCS)
    assert set(names) == set(REST)


@pytest.mark.parametrize("operation", ops.OPERATIONS, ids=lambda o: o.name)
def test_types_and_streaming_match_the_rpc(operation: ops.Operation) -> None:
    rpc = RPCS[operation.name]
    assert operation.request_type.__name__ == _pb_name(rpc.input_type.full_name)
    assert operation.response_type.__name__ == _pb_name(rpc.output_type.full_name)
    assert operation.streaming is rpc.server_streaming
    assert not rpc.client_streaming
    # The types are the model's own.
    assert getattr(t, operation.request_type.__name__) is operation.request_type
    assert getattr(t, operation.response_type.__name__) is operation.response_type


@pytest.mark.parametrize("operation", ops.OPERATIONS, ids=lambda o: o.name)
def test_rest_routes_as_in_the_spec(operation: ops.Operation) -> None:
    assert [(r.verb, r.path) for r in operation.rest] == REST[operation.name]
    for route in operation.rest:
        # GET/DELETE carry parameters in path + query, the others a body (spec §11.5).
        assert route.body is (route.verb == "POST")
        assert not route.path.startswith("/v1")  # no version prefix in v1.0


@pytest.mark.parametrize("operation", ops.OPERATIONS, ids=lambda o: o.name)
def test_path_variables_are_request_fields(operation: ops.Operation) -> None:
    fields = {f.encode_name for f in _fields(operation.request_type)}
    for route in operation.rest:
        for variable in path_variables(route):
            assert variable in fields, (operation.name, variable)


@pytest.mark.parametrize("operation", ops.OPERATIONS, ids=lambda o: o.name)
def test_every_request_carries_a_tenant(operation: ops.Operation) -> None:
    # Spec §8.3.2 and a2a.proto's HTTP rules: tenant is the leading REST path segment.
    assert "tenant" in {f.encode_name for f in _fields(operation.request_type)}


@pytest.mark.parametrize("operation", ops.OPERATIONS, ids=lambda o: o.name)
def test_required_capabilities(operation: ops.Operation) -> None:
    assert operation.requires is REQUIRES.get(operation.name)


def test_lookup() -> None:
    for operation in ops.OPERATIONS:
        assert ops.op(operation.name) is operation
        assert ops.BY_METHOD[operation.method] is operation
        assert operation.method == operation.name  # JSON-RPC method = rpc name
    with pytest.raises(KeyError):
        ops.op("message/send")  # v0.3 method names are not v1.0 operations


def test_streaming_operations_stream_stream_responses() -> None:
    streaming = [o for o in ops.OPERATIONS if o.streaming]
    assert {o.name for o in streaming} == {"SendStreamingMessage", "SubscribeToTask"}
    assert all(o.response_type is t.StreamResponse for o in streaming)


# --- helpers ----------------------------------------------------------------------------


def _fields(cls: type) -> tuple[mi.Field, ...]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info.fields


def path_variables(route: RestRoute) -> list[str]:
    return re.findall(r"\{(\w+)\}", route.path)
