"""``result_parts``: every kind of MCP content block as A2A parts."""

from __future__ import annotations

import base64

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from accord.mcp import result_parts
from accord.types import Part


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_every_block_kind() -> None:
    result = CallToolResult(
        content=[
            TextContent(type="text", text="plain words"),
            TextContent(type="text", text='{"n": 1}'),  # the structured copy
            TextContent(type="text", text="[not json"),
            ImageContent(type="image", data=_b64(b"img"), mime_type="image/png"),
            AudioContent(type="audio", data=_b64(b"snd"), mime_type="audio/wav"),
            EmbeddedResource(
                type="resource",
                resource=BlobResourceContents(
                    uri="file:///r/report.pdf",
                    mime_type="application/pdf",
                    blob=_b64(b"%PDF"),
                ),
            ),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri="file:///r/notes.md", mime_type="text/markdown", text="# notes"
                ),
            ),
            ResourceLink(
                type="resource_link",
                uri="https://files.example/big.csv",
                name="big.csv",
                mime_type="text/csv",
            ),
        ],
        structured_content={"n": 1},
    )
    assert result_parts(result) == (
        Part(text="plain words"),
        Part(text="[not json"),
        Part(raw=b"img", media_type="image/png"),
        Part(raw=b"snd", media_type="audio/wav"),
        Part(raw=b"%PDF", filename="report.pdf", media_type="application/pdf"),
        Part(text="# notes", media_type="text/markdown"),
        Part(
            url="https://files.example/big.csv",
            filename="big.csv",
            media_type="text/csv",
        ),
        Part(data={"n": 1}, media_type="application/json"),
    )


def test_an_empty_result_is_one_empty_text_part() -> None:
    assert result_parts(CallToolResult(content=[])) == (Part(text=""),)
