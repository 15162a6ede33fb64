"""Registry speed: ``python bench/registry_bench.py [--cards 10000] [--postgres URL]``.

What is measured, per store (SQLite file; PostgreSQL when reachable):

* **registrations per second**: ``Registrar.publish`` of ``--cards`` distinct cards,
  one after another (decode and validate the card, pin it, read the latest version,
  write the version, its filter terms and its full-text row, one transaction each);
  and of ``--signed`` cards signed with ES256 against a trust store (the signature
  verified too);
* **search latency**: ``--queries`` ARD searches once every card is registered, one
  at a time, each of one to three words drawn from the cards' vocabulary (a quarter
  of them with a filter as well), page size 10: the store call alone
  (``RegistryStore.search``) and the whole ARD request (``POST /search`` through
  the ASGI app in process: body parsing, query, the catalog-entry answer as JSON,
  no sockets), p50 / p99 / mean in milliseconds;
* the cost of the second page (``pageToken``) of the same searches.

Cards are synthetic and deterministic (``--seed``): names, descriptions, skills and
tags drawn with a Zipf-like skew from a 2,000-word made-up vocabulary, so some words
are common and some rare, as in real text. There is no SDK registry to compare with:
the numbers are absolute, with the machine's facts. Results go to stdout and, with
``--write``, to ``bench/RESULTS-registry.md``.
"""

from __future__ import annotations

import argparse
import bisect
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from accord import __version__
from accord.egress import EgressPolicy
from accord.registry import SearchQuery
from accord.registry.api import RegistryApp
from accord.registry.registration import Registrar
from accord.security import JWK, TrustStore, card_json, sign_card
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    encode,
)

if TYPE_CHECKING:
    from accord.registry.store import RegistryStore

RESULTS = Path(__file__).with_name("RESULTS-registry.md")
BINDINGS = ("JSONRPC", "HTTP+JSON", "GRPC")
FILTERS = ("tag", "binding", "provider")


class Words:
    """A made-up vocabulary with Zipf-like weights (word i has weight 1/(i+1))."""

    def __init__(self, rng: random.Random, size: int = 2000) -> None:
        syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
        seen: set[str] = set()
        while len(seen) < size:
            seen.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
        self.words = sorted(seen)
        rng.shuffle(self.words)
        weights = [1 / (i + 1) for i in range(size)]
        total = sum(weights)
        self.cumulative: list[float] = []
        running = 0.0
        for w in weights:
            running += w / total
            self.cumulative.append(running)
        self.rng = rng

    def pick(self, n: int) -> list[str]:
        return [
            self.words[
                min(
                    bisect.bisect(self.cumulative, self.rng.random()),
                    len(self.words) - 1,
                )
            ]
            for _ in range(n)
        ]

    def text(self, n: int) -> str:
        return " ".join(self.pick(n))


def make_cards(count: int, words: Words, rng: random.Random) -> list[AgentCard]:
    tags = words.words[:40]
    providers = [f"Org {w.title()}" for w in words.words[40:60]]
    cards = []
    for i in range(count):
        skills = tuple(
            AgentSkill(
                id=f"{words.pick(1)[0]}-{j}",
                name=words.text(2),
                description=words.text(8),
                tags=tuple(rng.sample(tags, 2)),
                examples=(words.text(5),),
            )
            for j in range(rng.randint(1, 4))
        )
        cards.append(
            AgentCard(
                name=f"{words.text(2).title()} {i}",
                description=words.text(12),
                version="1.0.0",
                supported_interfaces=(
                    AgentInterface(
                        url=f"https://agent{i}.example/a2a",
                        protocol_binding=rng.choice(BINDINGS),
                        protocol_version="1.0",
                    ),
                ),
                provider=AgentProvider(
                    organization=rng.choice(providers), url="https://org.example"
                ),
                capabilities=AgentCapabilities(streaming=True),
                default_input_modes=("text/plain",),
                default_output_modes=("text/plain", "application/json"),
                skills=skills,
            )
        )
    return cards


def make_queries(count: int, words: Words, rng: random.Random) -> list[SearchQuery]:
    queries = []
    tags = words.words[:40]
    for i in range(count):
        filters: dict[str, tuple[str, ...]] = {}
        if i % 4 == 0:
            kind = FILTERS[i // 4 % len(FILTERS)]
            value = {
                "tag": rng.choice(tags),
                "binding": rng.choice(BINDINGS),
                "provider": f"Org {rng.choice(words.words[40:60]).title()}",
            }[kind]
            filters[kind] = (value,)
        queries.append(
            SearchQuery(text=words.text(rng.randint(1, 3)), filters=filters, limit=10)
        )
    return queries


@dataclass
class Timings:
    values: list[float]

    def row(self) -> list[str]:
        ms = sorted(v * 1000 for v in self.values)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return [
            f"{statistics.median(ms):.2f}",
            f"{p99:.2f}",
            f"{statistics.fmean(ms):.2f}",
            str(len(ms)),
        ]


async def measure(
    store: RegistryStore, args: argparse.Namespace, label: str
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    words = Words(rng)
    cards = make_cards(args.cards, words, rng)
    bodies = [encode(card_json(c)) for c in cards]
    key = JWK.generate("ES256", kid="bench")
    signed = [
        encode(card_json(sign_card(make_cards(1, words, rng)[0], key)))
        for _ in range(args.signed)
    ]
    queries = make_queries(args.queries, words, rng)
    out: dict[str, Any] = {"store": label}
    app = RegistryApp(store, agent=False, egress=EgressPolicy())
    async with app.running():
        registrar = app.registrar
        started = time.perf_counter()
        for body in bodies:
            await registrar.publish("", body)
        out["register_s"] = time.perf_counter() - started
        out["register_rate"] = len(bodies) / out["register_s"]
        verifying = Registrar(
            store, registrar.http, trust=TrustStore(keys=[key.public()])
        )
        started = time.perf_counter()
        for body in signed:
            await verifying.publish("signed", body)
        out["signed_rate"] = len(signed) / (time.perf_counter() - started)
        print(f"{label}: registered {len(bodies)} cards", file=sys.stderr)

        hits = 0
        timings, second = [], []
        for query in queries[: args.queries // 10]:  # warm-up
            await store.search("", query)
        for query in queries:
            t0 = time.perf_counter()
            page = await store.search("", query)
            timings.append(time.perf_counter() - t0)
            hits += len(page.hits)
            if page.next_cursor is not None:
                later = SearchQuery(
                    text=query.text,
                    filters=query.filters,
                    limit=10,
                    cursor=page.next_cursor,
                )
                t0 = time.perf_counter()
                await store.search("", later)
                second.append(time.perf_counter() - t0)
        out["store"] = label
        out["search"] = Timings(timings)
        out["second"] = Timings(second)
        out["hits"] = hits / len(queries)

        api = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry"
        ) as client:
            for query in queries:
                request: dict[str, Any] = {
                    "query": {"text": query.text, "filter": dict(query.filters)},
                    "pageSize": 10,
                }
                t0 = time.perf_counter()
                answer = await client.post("/search", json=request)
                api.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
        out["api"] = Timings(api)
    print(
        f"{label}: {out['register_rate']:,.0f} registrations/s; search p50/p99/mean "
        f"ms {out['search'].row()[:3]}",
        file=sys.stderr,
    )
    return out


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join([line + " |", sep, *body])


def machine(args: argparse.Namespace, pg_version: str | None) -> list[list[str]]:
    import sqlite3

    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for raw in info:
            if raw.startswith("model name"):
                cpu = raw.split(":", 1)[1].strip()
                break
    return [
        ["date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")],
        ["nproc", str(os.cpu_count())],
        ["CPU", cpu],
        ["kernel", platform.release()],
        ["Python", platform.python_version()],
        ["accord", __version__],
        ["SQLite", sqlite3.sqlite_version],
        ["PostgreSQL", pg_version or "not measured"],
        ["loadavg at start", " ".join(f"{x:.2f}" for x in os.getloadavg())],
        [
            "workload",
            f"{args.cards:,} cards, {args.queries:,} searches, {args.signed:,} "
            f"signed cards, seed {args.seed}",
        ],
    ]


def report(
    results: list[dict[str, Any]], args: argparse.Namespace, pg: str | None
) -> str:
    rows = [
        [
            r["store"],
            f"{r['register_rate']:,.0f}",
            f"{r['signed_rate']:,.0f}",
            *r["search"].row()[:3],
            *r["api"].row()[:2],
            *r["second"].row()[:2],
            f"{r['hits']:.1f}",
        ]
        for r in results
    ]
    summary = table(
        [
            "store",
            "registrations/s",
            "signed registrations/s",
            "search p50 ms",
            "search p99 ms",
            "search mean ms",
            "ARD POST /search p50 ms",
            "ARD POST /search p99 ms",
            "page 2 p50 ms",
            "page 2 p99 ms",
            "hits per page",
        ],
        rows,
    )
    return (
        "# Registry: search latency and registrations per second\n\n"
        "Generated by `python bench/registry_bench.py --write`. See the script's "
        "docstring for what each measure means. No A2A SDK ships a registry, so "
        "there is nothing to compare with: absolute numbers, on this machine.\n\n"
        "## Machine\n\n"
        + table(["", ""], machine(args, pg))
        + "\n\n## Results\n\n"
        + summary
        + "\n\n`registrations/s`: `Registrar.publish` of unsigned cards, one at a "
        "time (validate, pin, diff against the latest, write the version, terms and "
        "text). `signed registrations/s`: the same with an ES256 signature verified "
        "against the trust store. `search`: `RegistryStore.search` alone; `ARD POST "
        "/search`: the whole request through the ASGI app in process (no sockets). "
        "`page 2`: the next page of the same search (keyset cursor).\n"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--signed", type=int, default=500)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="server for the PostgreSQL run ('' to skip)",
    )
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args()

    from accord.registry.sqlite import SQLiteRegistryStore

    results = []
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as scratch:
        store = SQLiteRegistryStore(Path(scratch) / "registry.db")
        results.append(await measure(store, args, "SQLite (FTS5)"))
    pg_version = None
    if args.postgres:
        import psycopg

        from accord.registry.postgres import PostgresRegistryStore

        schema = f"registry_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            pg_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in args.postgres else "?"
        url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
        try:
            results.append(
                await measure(PostgresRegistryStore(url), args, "PostgreSQL (ts_rank)")
            )
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    text = report(results, args, pg_version)
    print(text)
    if args.write:
        RESULTS.write_text(text)


if __name__ == "__main__":
    anyio.run(main)
