"""The media type of an HTTP+JSON answer (bindings/media.py): what the request asked
for or used, else spec v1.0.1's application/a2a+json."""

from __future__ import annotations

import pytest

from accord.bindings.media import A2A_JSON, JSON, response_media_type


@pytest.mark.parametrize(
    ("content_type", "accept", "expected"),
    [
        # Nothing said: v1.0.1's SHOULD.
        (None, None, A2A_JSON),
        (None, "*/*", A2A_JSON),
        (None, "", A2A_JSON),
        # The body's type (a v1.0.0 client sends application/json).
        ("application/json", None, JSON),
        ("application/json; charset=utf-8", "*/*", JSON),
        ("Application/JSON", None, JSON),
        ("application/a2a+json", None, A2A_JSON),
        ("application/vnd.other+json", None, A2A_JSON),
        # Accept decides when it names one of the two.
        (None, "application/json", JSON),
        ("application/a2a+json", "application/json", JSON),
        ("application/json", "application/a2a+json", A2A_JSON),
        (None, "application/json, application/a2a+json", A2A_JSON),
        (None, "application/a2a+json;q=0, application/json", JSON),
        (None, "application/json;q=0", A2A_JSON),
        (None, "application/json; q=0.5, text/html", JSON),
        (None, "application/json;q=bogus", A2A_JSON),
        ("application/json", "text/html", JSON),
    ],
)
def test_response_media_type(
    content_type: str | None, accept: str | None, expected: bytes
) -> None:
    assert response_media_type(content_type, accept) == expected


def test_a_huge_accept_header_is_read_only_so_far() -> None:
    accept = ", ".join(["text/html"] * 100 + ["application/json"])
    assert response_media_type(None, accept) == A2A_JSON
