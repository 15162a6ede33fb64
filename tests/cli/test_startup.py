"""What makes ``accord`` start fast, as structural facts (timings: bench/cli_startup.py).

* the trusted TLS roots are loaded at the first TLS handshake, never for http://;
* importing the command line loads neither the client, nor the server, nor uvicorn;
* the console entry point keeps optional modules no client command uses from loading.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.client._http import DeferredTrustContext
from tests.client.auth.tls import make_tls_files
from tests.helpers.cli import run_cli
from tests.helpers.examples import receptionist_app
from tests.helpers.uvicorn_thread import serve_in_thread


@pytest.fixture
def loaded_roots(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call of ``SSLContext.load_verify_locations`` from now on."""
    calls: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def recording(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        calls.append((type(self).__name__, args, kwargs))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", recording)
    return calls


@pytest.mark.parametrize(
    "argv", [("card",), ("task", "list"), ("send", "Summary of call-1001")]
)
def test_http_urls_load_no_trusted_roots(
    capsys: pytest.CaptureFixture[str],
    url: str,
    loaded_roots: list[Any],
    argv: tuple[str, ...],
) -> None:
    command, *rest = argv
    if command == "task":
        result = run_cli(capsys, "task", "list", url)
    else:
        result = run_cli(capsys, command, url, *rest)
    assert result.code == 0, result.err
    assert loaded_roots == []


@pytest.fixture(scope="module")
def https_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An agent over https with a private CA; yields its URL and the CA file."""
    files = make_tls_files(tmp_path_factory.mktemp("tls"))
    db = tmp_path_factory.mktemp("agent") / "a.db"
    with serve_in_thread(
        receptionist_app(db),
        ssl_certfile=files["server_cert"],
        ssl_keyfile=files["server_key"],
    ) as base:
        yield base, files["ca"]


def test_https_loads_the_roots_at_the_handshake(
    capsys: pytest.CaptureFixture[str],
    https_url: tuple[str, str],
    loaded_roots: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, ca = https_url
    # The default trust honours $SSL_CERT_FILE, as httpx's default context does.
    monkeypatch.setenv("SSL_CERT_FILE", ca)
    result = run_cli(capsys, "card", base)
    assert result.code == 0, result.err
    assert loaded_roots == [("DeferredTrustContext", (), {"cafile": ca})]


def test_https_without_the_ca_still_verifies(
    capsys: pytest.CaptureFixture[str],
    https_url: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    result = run_cli(capsys, "card", https_url[0])
    assert result.code == 3
    assert "TLS certificate verification failed" in result.err


def test_deferred_context_matches_the_default_one() -> None:
    deferred, default = DeferredTrustContext(), ssl.create_default_context()
    assert deferred.trust_loaded is False
    assert deferred.cert_store_stats()["x509_ca"] == 0
    for attribute in ("verify_mode", "check_hostname", "options", "verify_flags"):
        assert getattr(deferred, attribute) == getattr(default, attribute), attribute
    assert deferred.minimum_version == default.minimum_version
    deferred.load_trust()
    deferred.load_trust()  # once only
    assert deferred.trust_loaded is True
    assert deferred.cert_store_stats()["x509_ca"] > 0


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return set(done.stdout.split())


def test_importing_the_cli_stays_light() -> None:
    loaded = _modules_after("import accord.cli.main")
    for heavy in ("accord.client", "accord.server", "uvicorn", "httpx", "anyio"):
        assert heavy not in loaded, heavy


def test_entry_keeps_unused_optional_modules_out(tmp_path: Path) -> None:
    code = (
        "from accord.cli.main import skip_unused_imports\n"
        "skip_unused_imports(['card', 'http://127.0.0.1:1'])\n"
        "import httpx, httpcore\n"
        "from accord.client import Client\n"
        "assert sys.modules['trio'] is None and sys.modules['httpx._main'] is None\n"
    )
    loaded = _modules_after("import sys\n" + code)
    assert "rich" not in loaded
    assert "click" not in loaded


def test_serve_keeps_every_module_importable() -> None:
    code = (
        "import sys\n"
        "from accord.cli.main import skip_unused_imports\n"
        "skip_unused_imports(['serve'])\n"
        "assert 'trio' not in sys.modules or sys.modules['trio'] is not None\n"
    )
    _modules_after(code)
