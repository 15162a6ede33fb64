"""Credential options of the remote commands: flags, environment, messages, exit 4.

The agent is the credentials lab of ``tests/client/auth`` (a real agent behind a
credential check, with an OAuth 2.0 token endpoint) under a real uvicorn.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from tests.client.auth.lab import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    STATIC_TOKEN,
    Lab,
    api_key,
    http_auth,
    mtls,
    oauth2,
    requirement,
)
from tests.client.auth.tls import make_tls_files
from tests.helpers.cli import Result, run_cli
from tests.helpers.uvicorn_thread import serve_in_thread

ENV = ("ACCORD_TOKEN", "ACCORD_API_KEY", "ACCORD_CLIENT_ID", "ACCORD_CLIENT_SECRET")
KEY_HINT = (
    "the agent requires an API key (header X-API-Key): pass --api-key or set"
    " ACCORD_API_KEY"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Lab, str]]:
    lab = Lab()
    with serve_in_thread(lab) as base:
        yield lab, base


@pytest.fixture
def lab(served: tuple[Lab, str]) -> Iterator[Lab]:
    served[0].reset()
    yield served[0]
    served[0].reset()


@pytest.fixture
def base(served: tuple[Lab, str]) -> str:
    return served[1]


def list_tasks(capsys: pytest.CaptureFixture[str], base: str, *options: str) -> Result:
    return run_cli(capsys, "task", "list", base, *options)


def assert_no_secret(result: Result, *secrets: str) -> None:
    for secret in secrets or (API_KEY, STATIC_TOKEN, CLIENT_SECRET):
        assert secret not in result.out
        assert secret not in result.err


def test_api_key_flag(capsys: pytest.CaptureFixture[str], lab: Lab, base: str) -> None:
    lab.secure({"key": api_key()}, requirement(key=()))

    result = list_tasks(capsys, base, "--api-key", API_KEY, "--json")

    assert result.code == 0, result.err
    assert lab.agent_requests[-1].headers["x-api-key"] == API_KEY
    assert_no_secret(result)


def test_api_key_from_environment(
    capsys: pytest.CaptureFixture[str],
    lab: Lab,
    base: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab.secure({"key": api_key("query", "key")}, requirement(key=()))
    monkeypatch.setenv("ACCORD_API_KEY", API_KEY)

    result = run_cli(capsys, "send", base, "hello", "--json")

    assert result.code == 0, result.err
    assert lab.agent_requests[-1].query["key"] == API_KEY
    assert_no_secret(result)


def test_missing_api_key_is_exit_4_with_the_requirement(
    capsys: pytest.CaptureFixture[str], lab: Lab, base: str
) -> None:
    lab.secure({"key": api_key()}, requirement(key=()))

    result = list_tasks(capsys, base)

    assert result.code == 4
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"accord: {base} requires authentication (HTTP 401)")
    assert result.err.rstrip().endswith(KEY_HINT)


def test_wrong_api_key_is_exit_4_and_not_printed(
    capsys: pytest.CaptureFixture[str], lab: Lab, base: str
) -> None:
    lab.secure({"key": api_key()}, requirement(key=()))

    result = list_tasks(capsys, base, "--api-key", "wrong-key-V7", "--json")

    assert result.code == 4
    assert result.err == (
        "accord: the server refused the API key (401): check --api-key / "
        "$ACCORD_API_KEY\n"
    )
    assert_no_secret(result, "wrong-key-V7")


def test_credentials_that_do_not_fit_send_nothing(
    capsys: pytest.CaptureFixture[str], lab: Lab, base: str
) -> None:
    lab.secure({"key": api_key()}, requirement(key=()))

    result = list_tasks(capsys, base, "--token", STATIC_TOKEN)

    assert result.code == 4
    assert "do not fit the agent card; nothing was sent" in result.err
    assert KEY_HINT in result.err
    assert lab.agent_requests == []
    assert_no_secret(result)


def test_bearer_token_flag_and_environment(
    capsys: pytest.CaptureFixture[str],
    lab: Lab,
    base: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab.secure({"bearer": http_auth("Bearer")}, requirement(bearer=()))

    assert list_tasks(capsys, base, "--token", STATIC_TOKEN).code == 0
    monkeypatch.setenv("ACCORD_TOKEN", STATIC_TOKEN)
    assert list_tasks(capsys, base).code == 0
    monkeypatch.delenv("ACCORD_TOKEN")
    missing = list_tasks(capsys, base)

    assert [s.bearer for s in lab.agent_requests] == [STATIC_TOKEN, STATIC_TOKEN, None]
    assert missing.code == 4
    assert "pass --token or set ACCORD_TOKEN" in missing.err


def test_client_credentials_flags(
    capsys: pytest.CaptureFixture[str], lab: Lab, base: str
) -> None:
    lab.secure({"oauth": oauth2()}, requirement(oauth=("read",)))

    result = list_tasks(
        capsys, base, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET
    )

    assert result.code == 0, result.err
    assert len(lab.token_requests) == 1
    assert lab.token_requests[0].form["scope"] == "read"
    assert lab.agent_requests[-1].bearer == "tok-1"


def test_client_credentials_from_environment(
    capsys: pytest.CaptureFixture[str],
    lab: Lab,
    base: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab.secure({"oauth": oauth2()}, requirement(oauth=()))
    monkeypatch.setenv("ACCORD_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ACCORD_CLIENT_SECRET", CLIENT_SECRET)

    assert list_tasks(capsys, base).code == 0
    monkeypatch.setenv("ACCORD_CLIENT_SECRET", "bad-secret-P3")
    refused = list_tasks(capsys, base, "--json")

    assert refused.code == 4
    assert "refused the client credentials (invalid_client" in refused.err
    assert "--client-id/--client-secret" in refused.err
    assert refused.err.count("\n") == 1
    assert_no_secret(refused, "bad-secret-P3", CLIENT_SECRET)


def test_client_id_without_secret_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], base: str
) -> None:
    result = list_tasks(capsys, base, "--client-id", CLIENT_ID)
    assert result.code == 2
    assert "--client-id and --client-secret go together" in result.err


def test_alternatives_in_the_hint(
    capsys: pytest.CaptureFixture[str], lab: Lab, base: str
) -> None:
    lab.secure(
        {"key": api_key(), "oauth": oauth2(), "mtls": mtls()},
        requirement(key=()),
        requirement(oauth=(), mtls=()),
    )

    result = list_tasks(capsys, base)

    assert result.code == 4
    assert result.err.count("\n") == 1
    assert (
        "; or an OAuth 2.0 token (client-credentials flow) and a client certificate"
        " (mutual TLS): pass --client-id/--client-secret or set"
        " ACCORD_CLIENT_ID/ACCORD_CLIENT_SECRET, or a token with --token, and pass"
        " --cert/--key"
    ) in result.err


def test_help_shows_variables_not_values(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in zip(
        ENV, (STATIC_TOKEN, API_KEY, CLIENT_ID, CLIENT_SECRET), strict=True
    ):
        monkeypatch.setenv(name, value)

    result = run_cli(capsys, "send", "--help")

    assert result.code == 0
    text = " ".join(result.out.split())  # argparse wraps to the terminal width
    assert "(default: from $ACCORD_API_KEY)" in text
    assert "(default: from $ACCORD_CLIENT_SECRET)" in text
    for flag in ("--api-key", "--token", "--client-id", "--cert", "--key", "--cacert"):
        assert flag in text
    assert_no_secret(result, STATIC_TOKEN, API_KEY, CLIENT_SECRET)


@pytest.fixture(scope="module")
def tls(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], str]]:
    files = make_tls_files(tmp_path_factory.mktemp("cli-tls"))
    lab = Lab()
    lab.secure({"mtls": mtls()}, requirement(mtls=()))
    with serve_in_thread(
        lab,
        ssl_certfile=files["server_cert"],
        ssl_keyfile=files["server_key"],
        ssl_ca_certs=files["ca"],
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    ) as base:
        yield files, base


def test_client_certificate_and_private_ca(
    capsys: pytest.CaptureFixture[str], tls: tuple[dict[str, str], str]
) -> None:
    files, base = tls
    cert = ["--cert", files["client_cert"], "--key", files["client_key"]]
    cacert = ["--cacert", files["ca"]]

    assert list_tasks(capsys, base, *cert, *cacert).code == 0
    card = run_cli(capsys, "card", base, *cert, *cacert)
    assert card.code == 0, card.err
    without_cert = list_tasks(capsys, base, *cacert)
    assert without_cert.code == 3
    untrusted = list_tasks(capsys, base, *cert)
    assert untrusted.code == 3
    assert "certificate verification failed" in untrusted.err


def test_unusable_tls_files_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
    tls: tuple[dict[str, str], str],
    tmp_path: object,
) -> None:
    files, base = tls
    missing = f"{tmp_path}/nope.pem"

    for options in (
        ["--cert", missing],
        ["--cacert", missing],
        ["--key", files["client_key"]],
    ):
        result = list_tasks(capsys, base, *options)
        assert result.code == 2, result.err
        assert result.err.startswith("accord: ")
        assert "Traceback" not in result.err
