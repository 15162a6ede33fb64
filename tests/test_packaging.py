"""What ``pip install accord`` gets: the wheel's and the sdist's contents, and the
installed ``accord serve`` running the demo from outside the checkout.

The wheel and the sdist are built with the project's build backend (hatchling, as
pip would through PEP 517). The install test puts the wheel in a fresh virtual
environment and runs its ``accord`` console script from an empty folder; the
dependencies (msgspec, anyio, httpx, uvicorn) are borrowed from this environment by
a ``.pth`` line, so the test needs no network, while the wheel's metadata is checked
to declare them.
"""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from accord import __version__

REPO = Path(__file__).resolve().parents[1]
WHEEL_NAME = f"accord-{__version__}-py3-none-any.whl"
SDIST_NAME = f"accord-{__version__}.tar.gz"
#: Top-level folders and files of the checkout that must not end up in a wheel.
JUNK = ("tests/", "bench/", ".venv/", "examples/", "docs/", "scripts/", "__pycache__")

pytestmark = pytest.mark.timeout(180)


def _build(kind: str, out: Path) -> Path:
    """Build a wheel or sdist of the checkout into ``out`` with hatchling's PEP 517 hooks."""
    code = (
        f"from hatchling.build import build_{kind}; print(build_{kind}({str(out)!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _build("wheel", tmp_path_factory.mktemp("dist"))
    assert path.name == WHEEL_NAME
    return path


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _build("sdist", tmp_path_factory.mktemp("dist"))
    assert path.name == SDIST_NAME
    return path


def test_the_wheel_holds_the_package_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.parser.Parser().parsestr(
            archive.read(f"accord-{__version__}.dist-info/METADATA").decode()
        )
        entry_points = archive.read(
            f"accord-{__version__}.dist-info/entry_points.txt"
        ).decode()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"accord", f"accord-{__version__}.dist-info"}
    for required in (
        "accord/__init__.py",
        "accord/py.typed",
        "accord/types/_content.py",
        "accord/demo/receptionist/__init__.py",
        "accord/demo/receptionist/_skills.py",
        "accord/cli/main.py",
        # The console's page ships in the wheel: no build step for users.
        "accord/console/static/index.html",
        "accord/console/static/console.js",
        "accord/console/static/console.css",
        f"accord-{__version__}.dist-info/licenses/LICENSE",
    ):
        assert required in names
    assert [n for n in names if any(junk in n for junk in JUNK)] == []
    assert [n for n in names if n.endswith((".pyc", ".db", ".key"))] == []
    # Every source module of the package is in it.
    sources = {
        p.relative_to(REPO / "src").as_posix()
        for p in (REPO / "src" / "accord").rglob("*.py")
    }
    assert sources <= set(names)
    # The metadata PyPI shows, and what `pip install 'accord[serve]'` pulls in.
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    requires = metadata.get_all("Requires-Dist", [])
    for dependency in ("msgspec", "anyio", "httpx"):
        assert any(r.startswith(dependency) and "extra" not in r for r in requires)
    assert any(r.startswith("uvicorn") and "extra == 'serve'" in r for r in requires)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "accord = accord.cli.main:entry" in entry_points


def test_the_sdist_is_sane(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
        archive.extractall(tmp_path, filter="data")
    tops = {name.split("/")[0] for name in names}
    assert {
        "src",
        "tests",
        "README.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
    } <= tops
    assert not tops & {".venv", "bench", ".git", "dist", "build"}
    assert [n for n in names if n.endswith((".pyc", ".db", ".key"))] == []
    assert [n for n in names if "__pycache__" in n] == []
    assert "src/accord/py.typed" in names
    # It builds: a wheel made from the sdist has the same files as one from the checkout.
    unpacked = tmp_path / f"accord-{__version__}"
    code = f"from hatchling.build import build_wheel; print(build_wheel({str(tmp_path)!r}))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / WHEEL_NAME) as rebuilt:
        assert "accord/demo/receptionist/_card.py" in rebuilt.namelist()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin folder."""
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=False, symlinks=True)
    python = env / "bin" / "python"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install"),
            *("--quiet", "--no-deps", "--no-index", "--disable-pip-version-check"),
            str(wheel),
        ],
        check=True,
        timeout=120,
    )
    # The dependencies, from this environment (appended to sys.path, after the
    # fresh site-packages; its .pth files, the editable install's among them, are
    # not processed, so the checkout's src/ stays out of reach).
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return env / "bin"


@pytest.fixture
def outside() -> dict[str, str]:
    """The environment of a user's shell: no checkout on the path, no keys set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "ACCORD_API_KEYS", "VIRTUAL_ENV")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if ".venv" not in p
    )
    return env


def test_the_installed_package_is_the_wheel(
    installed: Path, tmp_path: Path, outside: dict[str, str]
) -> None:
    result = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import accord.demo, accord; print(accord.__file__)",
        ],
        cwd=tmp_path,
        env=outside,
        capture_output=True,
        text=True,
        check=True,
    )
    location = Path(result.stdout.strip())
    assert installed.parent in location.parents
    assert REPO not in location.parents


def test_installed_accord_serve_runs_the_demo(
    installed: Path, tmp_path: Path, outside: dict[str, str]
) -> None:
    process = subprocess.Popen(
        [str(installed / "accord"), "serve", "--port", "0"],
        cwd=tmp_path,
        env=outside,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        card = ""
        for line in process.stdout:  # bounded by the module's timeout
            if line.startswith("Agent card: "):
                card = line.removeprefix("Agent card: ").strip()
                break
        assert card, process.communicate(timeout=10)[1]
        answer = httpx.get(card, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["name"] == "Receptionist"
        # The demo key was written next to the default database, in the user's folder.
        key = (tmp_path / "receptionist.key").read_text().strip()
        assert (tmp_path / "receptionist.key").stat().st_mode & 0o777 == 0o600
        for database in tmp_path.glob("accord.db*"):  # -wal and -shm too
            assert database.stat().st_mode & 0o777 == 0o600, database
        sent = httpx.post(
            card.removesuffix("/.well-known/agent-card.json") + "/",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "SendMessage",
                "params": {
                    "message": {
                        "messageId": "m1",
                        "role": "ROLE_USER",
                        "parts": [{"text": "Summary of call-1001"}],
                    }
                },
            },
            headers={"A2A-Version": "1.0", "X-API-Key": key},
            timeout=10,
        )
        assert sent.status_code == 200, sent.text
        task = sent.json()["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err
