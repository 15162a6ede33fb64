"""A private PostgreSQL cluster for tests that stop, restart or crash the server.

Restarting the machine's shared server (127.0.0.1:5432) would break every other test
running at the time, so these tests get a cluster of their own: ``initdb`` into a
temporary directory, a free loopback port, its socket in that directory, stopped and
removed afterwards. PostgreSQL refuses to run as root: when the tests run as root the
server binaries run as the ``postgres`` OS user (``runuser``), and the directory is
given to that user.

:func:`server_binaries` finds the binaries (``$ACCORD_PG_BIN``, else the newest
``/usr/lib/postgresql/*/bin``, else ``pg_ctl`` on the ``PATH``); the tests skip with
the reason when there are none (they are installed here and in CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PrivateCluster", "private_cluster", "server_binaries"]


def server_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None."""
    env = os.environ.get("ACCORD_PG_BIN")
    if env:
        return Path(env) if (Path(env) / "pg_ctl").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PrivateCluster:
    """A running private cluster; :meth:`restart` and friends are blocking."""

    bindir: Path
    root: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        """Superuser URL of the ``postgres`` database (trust authentication)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}\n{tail}"
            )

    def initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l",
            str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean), ``immediate`` (like a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop (``mode``) and start again at the same address."""
        self.stop(mode)
        self.start()


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """Create and start a cluster; yield it; stop it and delete its files.

    Raises:
        RuntimeError: the binaries are there but the cluster cannot be made.
    """
    bindir = server_binaries()
    if bindir is None:
        raise LookupError(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed "
            "(apt-get install postgresql, or set ACCORD_PG_BIN)"
        )
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="accord-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivateCluster(bindir, root, _free_port(), as_postgres)
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
