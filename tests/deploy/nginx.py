"""Two ``accord serve --db postgresql://...`` instances and a private nginx in front.

The helpers of ``test_nginx_proxy.py``: the proxy's configuration is the README's own
``counter-nginx.conf`` block (section "Run several instances"), with its ports replaced
by the ones the instances and the proxy got here; a small main configuration wraps it
the way nginx's ``/etc/nginx/nginx.conf`` includes ``conf.d/``, with every path (pid,
logs, temporary files) in the test's folder. nginx runs in the foreground as the test's
own child (``daemon off``), on a loopback port.

Without nginx the tests skip, with how to install it; in CI (``CI`` set), where
``scripts/install`` installs it, they fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.blocks import REPO, blocks_of
from tests.docs.runner import free_port

__all__ = [
    "AGENT",
    "STEPS",
    "Instance",
    "Proxy",
    "instance",
    "nginx_binary",
    "proxy",
    "readme_config",
    "wait_for",
]

#: Longest wait for a process to start or stop (the machine may be busy).
START_TIMEOUT = 60.0

#: Status updates a held task sends after its cue, before it completes.
STEPS = 5

#: The agent both instances run. It says which instance ran it (``ACCORD_TEST_INSTANCE``)
#: in its final status. A message ``hold-N`` reports "started on X", writes the file
#: ``N.started`` (containing X) to ``ACCORD_TEST_CUES``, waits there for ``N.go``
#: (the test's cue: an agent-side wait, not test ordering), then sends STEPS updates.
AGENT = textwrap.dedent(
    f"""
    import os
    from pathlib import Path

    import anyio

    from accord.server import Agent, TaskContext

    NAME = os.environ["ACCORD_TEST_INSTANCE"]
    CUES = Path(os.environ["ACCORD_TEST_CUES"])


    async def run(ctx: TaskContext) -> None:
        if ctx.text.startswith("hold-"):
            cue = ctx.text.removeprefix("hold-")
            await ctx.working(f"started on {{NAME}}")
            # Recorded (and leased) before the cue: a blocking send's first events are
            # written behind the agent (server/write_behind.py), and the test may kill
            # this instance as soon as it reads the cue.
            await ctx.submit()
            (CUES / f"{{cue}}.started").write_text(NAME)
            while not (CUES / f"{{cue}}.go").exists():
                await anyio.sleep(0.01)
            for i in range({STEPS}):
                await ctx.working(f"step {{i}}")
        await ctx.complete(f"ran on {{NAME}}")


    agent = Agent(run, name="Where", description="Says which instance ran it")
    """
)


def nginx_binary() -> str:
    """nginx's path; skip (locally) or fail (CI) when it is not installed."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()),
        None,
    )
    if found is not None:
        return found
    reason = (
        "nginx is not installed: `bash scripts/nginx` installs it (root and apt-get), "
        "or install it with your package manager"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the proxy tests")
    pytest.skip(reason)


def readme_config() -> str:
    """The README's ``counter-nginx.conf`` block, as written."""
    found = [
        block.code
        for block in blocks_of(REPO / "README.md")
        if block.title == "counter-nginx.conf"
    ]
    assert len(found) == 1, "README.md has no (or several) counter-nginx.conf blocks"
    return found[0]


def wait_for(what: str, ready: object, deadline: float = START_TIMEOUT) -> None:
    """Poll ``ready()`` until it is true; fail with ``what`` after ``deadline`` s."""
    assert callable(ready)
    end = time.monotonic() + deadline
    while not ready():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Instance:
    """One ``accord serve`` process: its name, port and output file."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """What the instance printed (stdout and stderr)."""
        return self.log.read_text(errors="replace")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextmanager
def instance(
    name: str, folder: Path, db: str, extra: Sequence[str] = ()
) -> Iterator[Instance]:
    """Run ``accord serve agent.py --db DB --port 0 EXTRA`` until the block ends."""
    cues = folder / "cues"
    cues.mkdir(exist_ok=True)
    (folder / "agent.py").write_text(AGENT)
    log = folder / f"instance-{name}.log"
    with log.open("wb") as out:
        serve = ["serve", "agent.py", "--db", db, "--port", "0", *extra]
        process = subprocess.Popen(
            [sys.executable, "-m", "accord.cli", *serve],
            cwd=folder,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "ACCORD_TEST_INSTANCE": name,
                "ACCORD_TEST_CUES": str(cues),
            },
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        card = ""

        def started() -> bool:
            nonlocal card
            if process.poll() is not None:
                raise AssertionError(f"instance {name} exited:\n{log.read_text()}")
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("Agent card: "):
                    card = line.removeprefix("Agent card: ")
                    return True
            return False

        wait_for(f"instance {name} to listen", started)
        port = int(card.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        yield Instance(name, port, process, log)
    finally:
        _stop(process)


@dataclass(frozen=True)
class Proxy:
    """The private nginx: its URL and access log (one line per request)."""

    url: str
    access_log: Path
    error_log: Path

    def upstreams(self) -> list[tuple[str, str, str, str]]:
        """Each request so far: (method, URI, status, upstream address(es) tried)."""
        lines = self.access_log.read_text().splitlines()
        return [tuple(line.split(" ", 3)) for line in lines]  # type: ignore[misc]


_MAIN = """\
worker_processes 1;
pid nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$request_method $request_uri $status $upstream_addr';
    access_log {prefix}/access.log upstreams;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/counter-nginx.conf;
}}
"""


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def proxy(folder: Path, a: Instance, b: Instance) -> Iterator[Proxy]:
    """Run nginx with the README's configuration in front of ``a`` and ``b``."""
    binary = nginx_binary()
    prefix = folder / "nginx"
    (prefix / "temp").mkdir(parents=True)
    port = free_port()
    config = (
        readme_config()
        .replace("127.0.0.1:8000", f"127.0.0.1:{a.port}")
        .replace("127.0.0.1:8001", f"127.0.0.1:{b.port}")
        .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    )
    (prefix / "counter-nginx.conf").write_text(config)
    (prefix / "nginx.conf").write_text(_MAIN.format(prefix=prefix))
    error_log = prefix / "error.log"
    argv = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    argv += ["-e", str(error_log), "-g", "daemon off;"]
    with ExitStack() as stack:
        out = stack.enter_context((prefix / "stdout.log").open("wb"))
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        stack.callback(_stop, process, signal.SIGQUIT)  # graceful shutdown

        def started() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"nginx exited {process.returncode}:\n"
                    f"{(prefix / 'stdout.log').read_text()}\n{error_log.read_text()}"
                )
            return _listens(port)

        wait_for("nginx to listen", started)
        yield Proxy(f"http://127.0.0.1:{port}", prefix / "access.log", error_log)
