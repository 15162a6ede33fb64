"""The media type of an HTTP+JSON answer (bindings/media.py): what the request asked
for or used, else application/json (v1.0.0's MUST over v1.0.1's SHOULD)."""

from __future__ import annotations

import pytest

from accord.bindings.media import A2A_JSON, JSON, response_media_type


@pytest.mark.parametrize(
    ("content_type", "accept", "expected"),
    [
        # Nothing said: v1.0.0's MUST (v1.0.1 only says SHOULD a2a+json).
        (None, None, JSON),
        (None, "*/*", JSON),
        (None, "", JSON),
        # The body's type (a v1.0.0 client sends application/json).
        ("application/json", None, JSON),
        ("application/json; charset=utf-8", "*/*", JSON),
        ("Application/JSON", None, JSON),
        ("application/a2a+json", None, A2A_JSON),
        ("application/vnd.other+json", None, JSON),
        # Accept decides when it names one of the two.
        (None, "application/json", JSON),
        ("application/a2a+json", "application/json", JSON),
        ("application/json", "application/a2a+json", A2A_JSON),
        (None, "application/json, application/a2a+json", A2A_JSON),
        (None, "application/a2a+json;q=0, application/json", JSON),
        (None, "application/json;q=0", JSON),
        (None, "application/a2a+json;q=0", JSON),
        (None, "application/json; q=0.5, text/html", JSON),
        (None, "application/json;q=bogus", JSON),
        ("application/a2a+json", "*/*", A2A_JSON),
        ("application/json", "text/html", JSON),
    ],
)
def test_response_media_type(
    content_type: str | None, accept: str | None, expected: bytes
) -> None:
    assert response_media_type(content_type, accept) == expected


def test_a_huge_accept_header_is_read_only_so_far() -> None:
    accept = ", ".join(["text/html"] * 100 + ["application/a2a+json"])
    assert response_media_type(None, accept) == JSON
