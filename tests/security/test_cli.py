"""``accord keys generate``, ``accord card sign|verify`` and ``accord serve --sign-key``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from accord.cli.commands.keys import load_signing_key
from accord.cli.main import build_parser
from accord.security import JWK, JWKSet
from accord.server import A2AApp, Agent, TaskContext
from tests.helpers.cli import Result, run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

CARD = {
    "name": "CLI agent",
    "description": "signed from the command line",
    "supportedInterfaces": [
        {
            "url": "https://a.example/",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "1.0",
        }
    ],
    "version": "1",
    "capabilities": {"streaming": False},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [],
}


def _generate(capsys: pytest.CaptureFixture[str], prefix: Path, *extra: str) -> Result:
    result = run_cli(capsys, "keys", "generate", "--out", str(prefix), *extra)
    assert result.code == 0, result.err
    return result


def _card_file(tmp_path: Path) -> Path:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(CARD), encoding="utf-8")
    return path


def test_keys_generate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = _generate(capsys, tmp_path / "keys" / "agent")
    pem = tmp_path / "keys" / "agent.pem"
    jwks_path = tmp_path / "keys" / "agent.jwks.json"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    key = JWK.from_pem(pem.read_bytes())
    jwks = JWKSet.from_dict(json.loads(jwks_path.read_text()))
    assert [k.kid for k in jwks] == [key.thumbprint()]
    assert all(not k.is_private for k in jwks)
    assert f"kid:          {key.thumbprint()}" in result.out
    assert "PRIVATE" not in result.out + result.err
    assert key.to_dict(private=True)["d"] not in result.out
    # No silent overwrite of a private key.
    again = run_cli(
        capsys, "keys", "generate", "--out", str(tmp_path / "keys" / "agent")
    )
    assert again.code == 2
    assert "--force" in again.err


def test_keys_generate_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prefix = tmp_path / "ed"
    (tmp_path / "ed.pem").write_text("old")
    os.chmod(tmp_path / "ed.pem", 0o644)
    result = _generate(
        capsys, prefix, "--alg", "EdDSA", "--kid", "ed-1", "--json", "--force"
    )
    summary = result.json()
    assert (summary["kid"], summary["alg"]) == ("ed-1", "EdDSA")
    assert stat.S_IMODE((tmp_path / "ed.pem").stat().st_mode) == 0o600  # replaced: 0600
    key = load_signing_key(str(tmp_path / "ed.pem"))
    assert (key.kid, key.alg) == ("ed-1", "EdDSA")  # from the .jwks.json beside it
    assert load_signing_key(str(tmp_path / "ed.pem"), kid="x").kid == "x"


def test_load_signing_key_errors(tmp_path: Path, es256: JWK) -> None:
    from accord.cli._errors import UsageError

    with pytest.raises(UsageError, match="cannot read"):
        load_signing_key(str(tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(UsageError, match="not a usable PEM key"):
        load_signing_key(str(tmp_path / "junk.pem"))
    (tmp_path / "public.pem").write_bytes(es256.public().to_pem())
    with pytest.raises(UsageError, match="public key"):
        load_signing_key(str(tmp_path / "public.pem"))
    (tmp_path / "lone.pem").write_bytes(es256.to_pem())
    assert load_signing_key(str(tmp_path / "lone.pem")).kid == es256.thumbprint()


def test_sign_then_verify_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _generate(capsys, tmp_path / "k", "--kid", "cli-key")
    signed_path = tmp_path / "signed.json"
    signed = run_cli(
        capsys,
        "card", "sign", str(_card_file(tmp_path)),
        "--key", str(tmp_path / "k.pem"),
        "--jku", "https://a.example/.well-known/jwks.json",
        "--out", str(signed_path),
    )  # fmt: skip
    assert signed.code == 0, signed.err
    assert "signed with kid cli-key (ES256)" in signed.err
    document = json.loads(signed_path.read_text())
    assert document["skills"] == []  # REQUIRED fields written out, as signed
    assert len(document["signatures"]) == 1

    trust = str(tmp_path / "k.jwks.json")
    ok = run_cli(capsys, "card", "verify", str(signed_path), "--trust", trust)
    assert ok.code == 0, ok.err
    assert ok.out == "verified: signature 1 of 1, kid cli-key (ES256)\n"
    as_json = run_cli(
        capsys, "card", "verify", str(signed_path), "--trust", trust, "--json"
    )
    assert as_json.json() == {
        "verified": True, "kid": "cli-key", "alg": "ES256", "index": 0, "form": "json"
    }  # fmt: skip

    # A second signature (rotation) on stdout; both verify with their own keys.
    _generate(capsys, tmp_path / "k2", "--alg", "EdDSA")
    twice = run_cli(
        capsys, "card", "sign", str(signed_path), "--key", str(tmp_path / "k2.pem")
    )
    assert twice.code == 0
    assert len(twice.json()["signatures"]) == 2
    (tmp_path / "twice.json").write_text(twice.out)
    new_only = run_cli(
        capsys, "card", "verify", str(tmp_path / "twice.json"),
        "--trust", str(tmp_path / "k2.jwks.json"),
    )  # fmt: skip
    assert new_only.code == 0
    assert new_only.out.startswith("verified: signature 2 of 2")


def test_verify_failures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _generate(capsys, tmp_path / "k")
    _generate(capsys, tmp_path / "other")
    signed = run_cli(
        capsys,
        "card",
        "sign",
        str(_card_file(tmp_path)),
        "--key",
        str(tmp_path / "k.pem"),
    )
    document = signed.json()
    (tmp_path / "signed.json").write_text(json.dumps(document))
    unknown = run_cli(
        capsys, "card", "verify", str(tmp_path / "signed.json"),
        "--trust", str(tmp_path / "other.jwks.json"),
    )  # fmt: skip
    assert unknown.code == 1
    assert "UnknownKeyError" in unknown.err
    document["name"] = "tampered"
    (tmp_path / "tampered.json").write_text(json.dumps(document))
    tampered = run_cli(
        capsys, "card", "verify", str(tmp_path / "tampered.json"),
        "--trust", str(tmp_path / "k.jwks.json"), "--json",
    )  # fmt: skip
    assert tampered.code == 1
    assert tampered.json()["error"] == "SignatureError"
    assert "signature does not verify" in tampered.err
    unsigned = run_cli(
        capsys, "card", "verify", str(_card_file(tmp_path)),
        "--trust", str(tmp_path / "k.jwks.json"),
    )  # fmt: skip
    assert unsigned.code == 1
    assert "card is not signed" in unsigned.err


def test_trust_files_may_be_a_jwk_or_a_pem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, es256: JWK
) -> None:
    (tmp_path / "k.pem").write_bytes(es256.to_pem())
    signed = run_cli(
        capsys,
        "card",
        "sign",
        str(_card_file(tmp_path)),
        "--key",
        str(tmp_path / "k.pem"),
    )
    (tmp_path / "signed.json").write_text(signed.out)
    (tmp_path / "public.pem").write_bytes(es256.public().to_pem())
    # The PEM holds no kid, so the signature's kid is the thumbprint; a JWK without
    # a kid gets the same one.
    unnamed = {k: v for k, v in es256.public().to_dict().items() if k != "kid"}
    (tmp_path / "one.jwk").write_text(json.dumps(unnamed))
    for trust in ("public.pem", "one.jwk"):
        result = run_cli(
            capsys,
            "card",
            "verify",
            str(tmp_path / "signed.json"),
            "--trust",
            str(tmp_path / trust),
        )
        assert result.code == 0, result.err
    (tmp_path / "empty.json").write_text('{"keys": []}')
    empty = run_cli(
        capsys,
        "card",
        "verify",
        str(tmp_path / "signed.json"),
        "--trust",
        str(tmp_path / "empty.json"),
    )
    assert empty.code == 2
    assert "no usable signature key" in empty.err


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _generate(capsys, tmp_path / "k")
    missing = run_cli(
        capsys,
        "card",
        "sign",
        str(tmp_path / "nope.json"),
        "--key",
        str(tmp_path / "k.pem"),
    )
    assert missing.code == 2
    (tmp_path / "bad.json").write_text('{"name": 5}')
    invalid = run_cli(
        capsys,
        "card",
        "sign",
        str(tmp_path / "bad.json"),
        "--key",
        str(tmp_path / "k.pem"),
    )
    assert invalid.code == 1
    assert "not a valid agent card" in invalid.err
    no_trust = run_cli(capsys, "card", "verify", str(tmp_path / "bad.json"))
    assert no_trust.code == 2
    insecure = run_cli(
        capsys, "card", "verify", str(tmp_path / "bad.json"),
        "--trust", "http://keys.example/jwks.json",
    )  # fmt: skip
    assert insecure.code == 2
    assert "plain HTTP" in insecure.err


def test_card_url_still_works_as_before() -> None:
    # "card sign" / "card verify" are two-word commands; "card URL" is unchanged.
    args = build_parser().parse_args(["card", "http://127.0.0.1:1"])
    assert (args.module, getattr(args, "action", None)) == ("card", None)


async def _echo(ctx: TaskContext) -> None:
    await ctx.complete(ctx.text)


def test_verify_a_served_card_by_url(
    capsys: pytest.CaptureFixture[str], es256: JWK
) -> None:
    app = A2AApp(Agent(_echo, name="Served", description="d"), card_signer=es256)
    with serve_in_thread(app) as base:
        ok = run_cli(
            capsys, "card", "verify", base, "--trust", base + "/.well-known/jwks.json"
        )
        assert ok.code == 0, ok.err
        assert f"kid {es256.kid} (ES256)" in ok.out
        gone = run_cli(
            capsys,
            "card",
            "verify",
            base + "/nope.json",
            "--trust",
            base + "/.well-known/jwks.json",
        )
        assert gone.code == 5
        no_jwks = run_cli(
            capsys, "card", "verify", base, "--trust", base + "/missing-jwks.json"
        )
        assert no_jwks.code == 5
        assert "JWKS at" in no_jwks.err


@pytest.mark.slow  # a subprocess running `accord serve`
def test_serve_sign_key_smoke(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`accord serve --sign-key` (the demo Receptionist) serves a card that verifies."""
    _generate(capsys, tmp_path / "signing")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ACCORD_API_KEYS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "serve", "--port", "0", "--db", "s.db",
         "--sign-key", str(tmp_path / "signing.pem")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        card = ""
        for line in process.stdout:
            if line.startswith("Agent card: "):
                card = line.removeprefix("Agent card: ").strip()
                break
        assert card, process.communicate()[1]
        base = card.removesuffix("/.well-known/agent-card.json")
        result = run_cli(
            capsys, "card", "verify", card,
            "--trust", base + "/.well-known/jwks.json",
            "--trust", str(tmp_path / "signing.jwks.json"),
        )  # fmt: skip
        assert result.code == 0, result.err
        assert result.out.startswith("verified: signature 1 of 1")
    finally:
        process.terminate()
        process.communicate(timeout=15)
