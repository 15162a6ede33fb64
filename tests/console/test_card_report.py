"""What the console says about a card: each check of the table, each signature status."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from accord.client import ClientTimeouts
from accord.console._card_report import inspect_card
from accord.security import JWK, TrustStore, card_json, sign_card
from accord.types import AgentCard, convert
from tests.helpers.cli import closed_port_url

pytestmark = pytest.mark.anyio

URL = "https://agent.example/.well-known/agent-card.json"


def _card(**changes: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "name": "Probe",
        "description": "probes",
        "supportedInterfaces": [
            {
                "url": "https://agent.example/",
                "protocolBinding": "JSONRPC",
                "protocolVersion": "1.0",
            }
        ],
        "version": "1",
        "capabilities": {},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "s", "name": "S", "description": "d", "tags": ["t"]}],
    }
    card.update(changes)
    return card


async def _inspect(
    card: dict[str, Any], trust: TrustStore | None = None, url: str = URL
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as http:
        report, _ = await inspect_card(
            json.dumps(card).encode(),
            url,
            http,
            trust=trust,
            timeouts=ClientTimeouts(connect=5, card=5),
        )
    return report.to_json()


def _levels(report: dict[str, Any]) -> dict[str, str]:
    return {check["message"]: check["level"] for check in report["checks"]}


async def test_a_clean_card_has_only_ok_checks() -> None:
    report = await _inspect(_card())
    assert set(_levels(report).values()) == {"ok"}
    assert report["usable"] is True
    assert report["signature"]["status"] == "unsigned"


async def test_warnings_and_errors_of_the_table() -> None:
    interfaces = [
        {"url": "http://agent.example/", "protocolBinding": "JSONRPC"},
        {
            "url": "http://127.0.0.1:9/",
            "protocolBinding": "HTTP+JSON",
            "protocolVersion": "1.0",
        },
    ]
    levels = _levels(await _inspect(_card(supportedInterfaces=interfaces, skills=[])))
    assert (
        levels["no protocolVersion (required by spec §8.3.1) for http://agent.example/"]
        == "warning"
    )
    assert (
        levels[
            "plain http off loopback (spec §7.1 requires TLS in production): http://agent.example/"
        ]
        == "warning"
    )
    assert levels["the card lists no skills"] == "warning"
    grpc_only = [
        {
            "url": "agent.example:443",
            "protocolBinding": "GRPC",
            "protocolVersion": "1.0",
        }
    ]
    report = await _inspect(_card(supportedInterfaces=grpc_only))
    assert report["usable"] is False
    assert any(
        c["level"] == "error" and "no interface" in c["message"]
        for c in report["checks"]
    )


async def test_a_v03_card_is_read_through_the_conversion() -> None:
    legacy = {
        "name": "Old",
        "description": "v0.3",
        "url": "https://agent.example/",
        "version": "1",
        "protocolVersion": "0.3.0",
        "capabilities": {},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
    }
    report = await _inspect(legacy)
    assert report["checks"][0] == {
        "level": "warning",
        "message": "a v0.3 card (read through the v0.3 conversion)",
    }


async def test_a_signed_card_whose_keys_cannot_be_read_is_unverified() -> None:
    key = JWK.generate("ES256", kid="k1")
    signed = card_json(sign_card(convert(_card(), AgentCard), key))
    report = await _inspect(
        signed, url=closed_port_url() + "/.well-known/agent-card.json"
    )
    assert report["signature"]["status"] == "unverified"
    assert report["usable"] is True
    assert _levels(report)[f"signature: {report['signature']['detail']}"] == "warning"
    trusted = await _inspect(signed, trust=TrustStore(keys=[key.public()]))
    assert trusted["signature"]["status"] == "verified"
    assert "a trusted key" in trusted["signature"]["detail"]
