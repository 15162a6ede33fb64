"""Without tracing, nothing of OpenTelemetry (or prometheus-client) is imported, and
nothing observes: the hooks cost nothing until an interceptor or a client hook asks."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = (
    "accord",
    "accord.server",
    "accord.client",
    "accord.client.transports",
    "accord.grpc",
    "accord.stores",
    "accord.cli.main",
    "accord.cli.commands.serve",
)


def _loaded_after(imports: str) -> set[str]:
    code = (
        f"{imports}\n"
        "import sys\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_core_accord_does_not_import_opentelemetry() -> None:
    loaded = _loaded_after("\n".join(f"import {m}" for m in CORE))
    assert "accord" in loaded
    assert "opentelemetry" not in loaded
    assert "prometheus_client" not in loaded


def test_serving_and_calling_without_tracing_does_not_import_it() -> None:
    code = """
import anyio, httpx
from accord.client import Client, MemoryTransport
from accord.server import A2AApp, Agent

async def echo(ctx):
    await ctx.complete(ctx.text)

async def main():
    app = A2AApp(Agent(echo, name="Echo", description="echo"))
    transport = MemoryTransport(app, lifespan=False)
    async with app.running(), httpx.AsyncClient(transport=transport) as http:
        async with await Client.connect("http://agent", http=http) as client:
            await client.send_message("hello")

anyio.run(main)
"""
    loaded = _loaded_after(code)
    assert "opentelemetry" not in loaded


@pytest.mark.parametrize("module", ["accord.otel"])
def test_the_otel_package_brings_it(module: str) -> None:
    assert "opentelemetry" in _loaded_after(f"import {module}")
