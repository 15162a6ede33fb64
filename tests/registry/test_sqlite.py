"""SQLite specifics: the FTS5 rows follow the agents' ids, VACUUM included."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from accord.registry import SearchQuery, agent_identifier
from accord.registry.sqlite import SQLiteRegistryStore

from ._cards import make_card, wire

pytestmark = pytest.mark.anyio


async def test_text_rows_follow_their_agents_through_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    first = make_card("Alpha", description="walrus", url="http://a.example/a2a")
    second = make_card("Beta", description="narwhal", url="http://b.example/a2a")
    async with SQLiteRegistryStore(path) as store:
        for card in (first, second):
            await store.record(
                "", agent_identifier(card), card, wire(card),
                source_url=None, signed_by=None, now=1.0,
            )  # fmt: skip
        await store.remove("", agent_identifier(first))
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")
    changed = make_card("Beta", description="dolphin", url="http://b.example/a2a")
    async with SQLiteRegistryStore(path) as store:
        await store.record(
            "", agent_identifier(changed), changed, wire(changed),
            source_url=None, signed_by=None, now=2.0,
        )  # fmt: skip
        old = await store.search("", SearchQuery(text="narwhal walrus"))
        new = await store.search("", SearchQuery(text="dolphin"))
    assert old.hits == ()
    assert [h.entry.card.name for h in new.hits] == ["Beta"]
    with sqlite3.connect(path) as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM registry_fts").fetchone()
    assert rows == 1
