"""Accord's a2a.proto is the official one on the wire, and its descriptor is fresh.

The official ``a2a.proto`` (spec §10.1) comes compiled in the reference SDK
(``a2a.types.a2a_pb2``); everything the wire depends on is compared with ours: the
package, every message's fields (name, number, type, cardinality, message/enum type,
oneof, presence, JSON name), every enum's values, and the service's methods with their
types and streaming. The HTTP annotations and comments are not wire-relevant and are
not compared.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from a2a.compat.v0_3 import a2a_v0_3_pb2
from a2a.types import a2a_pb2
from google.protobuf import descriptor_pb2

from accord.bindings import v03 as v03_bindings
from accord.grpc import messages, v03

ROOT = Path(__file__).resolve().parents[2]


def _file(descriptor: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(proto)
    return proto


OURS = _file(messages.POOL.FindFileByName("a2a.proto"))
OFFICIAL = _file(a2a_pb2.DESCRIPTOR)
#: v0.3's proto: ours, and the one the reference SDK ships for its v0.3 layer.
OURS_V03 = _file(messages.POOL.FindFileByName("a2a_v03.proto"))
OFFICIAL_V03 = _file(a2a_v0_3_pb2.DESCRIPTOR)
PAIRS = {"v1.0": (OURS, OFFICIAL), "v0.3": (OURS_V03, OFFICIAL_V03)}


def _fields(message: descriptor_pb2.DescriptorProto) -> dict[str, tuple[Any, ...]]:
    oneofs = [o.name for o in message.oneof_decl]
    return {
        f.name: (
            f.number,
            f.type,
            f.label,
            f.type_name,
            oneofs[f.oneof_index] if f.HasField("oneof_index") else None,
            f.proto3_optional,
            f.json_name,
        )
        for f in message.field
    }


def _messages(
    file: descriptor_pb2.FileDescriptorProto,
) -> dict[str, descriptor_pb2.DescriptorProto]:
    found: dict[str, descriptor_pb2.DescriptorProto] = {}

    def walk(prefix: str, items: Any) -> None:
        for item in items:
            name = f"{prefix}{item.name}"
            found[name] = item
            walk(name + ".", item.nested_type)

    walk("", file.message_type)
    return found


def test_packages() -> None:
    assert OURS.package == OFFICIAL.package == messages.PACKAGE
    assert OURS_V03.package == OFFICIAL_V03.package == v03.PACKAGE


@pytest.mark.parametrize("version", sorted(PAIRS))
def test_same_messages(version: str) -> None:
    ours, official = PAIRS[version]
    assert sorted(_messages(ours)) == sorted(_messages(official))


@pytest.mark.parametrize(
    ("version", "name"),
    [
        (v, n)
        for v, (_, official) in sorted(PAIRS.items())
        for n in sorted(_messages(official))
    ],
)
def test_message_fields(version: str, name: str) -> None:
    ours_file, official_file = PAIRS[version]
    ours, official = _messages(ours_file)[name], _messages(official_file)[name]
    assert _fields(ours) == _fields(official)
    assert ours.options.map_entry == official.options.map_entry


@pytest.mark.parametrize("version", sorted(PAIRS))
def test_enums(version: str) -> None:
    def values(file: descriptor_pb2.FileDescriptorProto) -> dict[str, Any]:
        return {e.name: [(v.name, v.number) for v in e.value] for e in file.enum_type}

    ours, official = PAIRS[version]
    assert values(ours) == values(official)


@pytest.mark.parametrize("version", sorted(PAIRS))
def test_service(version: str) -> None:
    def methods(file: descriptor_pb2.FileDescriptorProto) -> dict[str, Any]:
        (service,) = file.service
        return {
            m.name: (
                service.name,
                m.input_type,
                m.output_type,
                m.client_streaming,
                m.server_streaming,
            )
            for m in service.method
        }

    ours, official = PAIRS[version]
    assert methods(ours) == methods(official)


def test_every_v03_rpc_maps_onto_an_operation() -> None:
    (service,) = OURS_V03.service
    assert set(v03.METHODS) == {m.name for m in service.method}
    for method in v03.METHODS.values():
        assert method.operation.name == v03_bindings.METHODS[method.method]


def test_every_operation_is_an_rpc_with_the_operations_types() -> None:
    (service,) = OURS.service
    rpcs = {m.name: m for m in service.method}
    assert set(messages.METHODS) == set(rpcs)
    for name, method in messages.METHODS.items():
        rpc = rpcs[name]
        assert rpc.server_streaming == method.operation.streaming
        assert rpc.input_type.endswith("." + method.operation.request_type.__name__)
        assert rpc.output_type.endswith("." + method.operation.response_type.__name__)
        assert method.path == f"/lf.a2a.v1.A2AService/{name}"


def test_descriptor_module_is_fresh() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_grpc", ROOT / "scripts" / "gen_grpc.py"
    )
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_grpc"] = gen
    try:
        spec.loader.exec_module(gen)
        assert gen.main(["--check"]) == 0, "run: python scripts/gen_grpc.py"
    finally:
        del sys.modules["gen_grpc"]
