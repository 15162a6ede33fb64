"""The fast Accord → protobuf encoder gives the bytes of the ProtoJSON bridge.

Every wire type, with hypothesis values (tests/conformance/strategies.py): the message
built by :func:`accord.grpc.messages.to_proto` serializes exactly as the one ProtoJSON
builds (the spec's mapping, spec §5.5), and reads back as the same Accord value.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.grpc.messages import _to_proto_json, from_proto, message_class, to_proto
from tests.conformance.strategies import WIRE_TYPES, strategy_for

TYPES = [cls for cls in WIRE_TYPES if cls.__name__ != "Empty"]


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_fast_encoder_matches_the_protojson_bridge(
    cls: type[Any], data: st.DataObject
) -> None:
    value = data.draw(strategy_for(cls))
    fast = to_proto(value)
    bridge = _to_proto_json(message_class(cls.__name__), value)
    assert fast.SerializeToString(deterministic=True) == bridge.SerializeToString(
        deterministic=True
    )
    assert from_proto(fast, cls) == from_proto(bridge, cls)
