"""``accord serve --grpc-port`` and ``accord send/card --binding GRPC`` (the grpc extra)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.helpers.cli import reap, run_cli, spawn_serve

_spawn = spawn_serve


def _announced(process: subprocess.Popen[str]) -> tuple[str, str]:
    """The card URL and the gRPC address the server printed."""
    assert process.stdout is not None
    card = ""
    for line in process.stdout:
        if line.startswith("Agent card: "):
            card = line.removeprefix("Agent card: ").strip()
        elif line.startswith("gRPC: "):
            return card, line.removeprefix("gRPC: ").strip()
    raise AssertionError(f"no gRPC address printed; stderr: {process.communicate()[1]}")


def test_serve_grpc_and_send_over_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    process = _spawn("--port", "0", "--grpc-port", "0", "--db", "g.db", cwd=tmp_path)
    try:
        card_url, address = _announced(process)
        assert address.startswith("127.0.0.1:")
        card = httpx.get(card_url, timeout=10).json()
        grpc_entries = [
            i for i in card["supportedInterfaces"] if i["protocolBinding"] == "GRPC"
        ]
        assert grpc_entries == [
            {"url": address, "protocolBinding": "GRPC", "protocolVersion": "1.0"}
        ]
        base = card_url.removesuffix("/.well-known/agent-card.json")
        refused = run_cli(
            capsys, "send", base, "Summary of call-1005", "--binding", "GRPC"
        )
        assert refused.code == 4, refused.err  # the API key travels as metadata
        key = (tmp_path / "receptionist.key").read_text().strip()
        result = run_cli(
            capsys,
            "send",
            base,
            "Summary of call-1005",
            "--binding",
            "GRPC",
            "--api-key",
            key,
            "--json",
        )
        assert result.code == 0, result.err
        task = json.loads(result.out)["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        shown = run_cli(capsys, "card", base, "--binding", "grpc", "--api-key", key)
        assert shown.code == 0, shown.err
        assert f"GRPC       {address}" in shown.out
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        reap(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_grpc_port_in_use_fails_cleanly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = _spawn(
            "--port", "0", "--grpc-port", str(port), "--db", "x.db", cwd=tmp_path
        )
        out, err = process.communicate(timeout=20)
    assert process.returncode == 1, err
    assert "gRPC: " not in out
    assert f"cannot listen for gRPC on 127.0.0.1:{port}" in err
