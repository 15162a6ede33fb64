"""The route and query-field tables derived from the operations table."""

from __future__ import annotations

from accord import types as t
from accord.bindings import _routes
from accord.protocol.operations import OPERATIONS


def test_only_scalars_travel_in_a_query() -> None:
    fields = _routes.query_fields(t.CancelTaskRequest)  # metadata is a map
    assert set(fields) == {"id"}
    assert set(_routes.query_fields(t.Part)) == {  # data is a Value, raw is bytes
        "text",
        "url",
        "filename",
        "mediaType",
        "media_type",
    }


def test_query_fields_know_both_spellings() -> None:
    fields = _routes.query_fields(t.ListTasksRequest)
    assert fields["statusTimestampAfter"] is fields["status_timestamp_after"]
    assert "tenant" not in fields


def test_every_route_is_compiled_and_first_routes_are_for_clients() -> None:
    assert set(_routes.CLIENT_ROUTES) == {o.name for o in OPERATIONS}
    for operation in OPERATIONS:
        route = _routes.CLIENT_ROUTES[operation.name]
        assert (route.verb, route.template) == (
            operation.rest[0].verb,
            operation.rest[0].path,
        )


def test_more_literal_templates_match_first() -> None:
    names = [
        (route.operation.name, route.verb)
        for route, _, _ in _routes.candidates("/tasks/x:subscribe")
    ]
    assert names[:2] == [("SubscribeToTask", "POST"), ("SubscribeToTask", "GET")]
    assert names[2] == ("GetTask", "GET")
