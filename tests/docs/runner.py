"""Run the code blocks of one page in order, like a reader following along.

One :class:`PageRunner` per page, with its own working folder and its own free port
(the conventions are in docs/contributing.md, "Code blocks"):

* **URL.** ``127.0.0.1:8000`` and ``localhost:8000`` in a block become the page's
  port, and every server the page starts listens there, so pages run in parallel.
* **Servers.** In a shell block, ``accord serve ...``, ``accord registry serve ...``
  and ``uvicorn ...`` are shell
  functions (see :data:`_PRELUDE`) that ask the runner, over two pipes, to start the
  server as the runner's own child with ``--port PORT`` (a later ``--port`` in the block
  wins), the way a reader leaves it running in another shell. The runner waits until
  it says it listens, then the block goes on. The next server of the page on the same
  port replaces it (Ctrl-C first); the last ones are stopped at the end of the page
  and must exit 0 without a traceback.
* **A second server.** ``127.0.0.1:8001``, ``localhost:8001`` and ``--port 8001``
  become a second free port of the page: a server started with ``--port 8001`` runs
  beside the one on the first port (a second instance, in a reader's third shell).
* **Receptionist fixture.** A block that calls the page's URL while no server runs
  gets the demo Receptionist (``accord serve`` in the page's folder), and
  ``ACCORD_API_KEY`` is set to the key it wrote to ``receptionist.key``.
* **Shell state.** Exported variables carry from one block to the next, Python blocks
  included (``export ACCORD_API_KEY=...`` in one ``sh`` block is seen by the next
  Python block). Every block starts in the page's folder, where ``examples/`` links to
  the repository's examples.
* **No installs.** ``pip`` / ``python -m pip`` in a shell block fail with a hint: a
  block that installs packages must be marked ``<!-- docs-test: skip REASON -->``.
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

from .blocks import REPO, Block

__all__ = ["BlockFailed", "PageRunner", "free_port"]

#: Longest wait for one block, and for a server to print its card URL.
BLOCK_TIMEOUT = 120.0
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 20.0

_URL = re.compile(r"\b(127\.0\.0\.1|localhost):8000\b")
_SECOND = re.compile(r"(\b127\.0\.0\.1:|\blocalhost:|--port[ =])8001\b")

#: Run before every shell block. ``accord serve ARGS`` asks the runner (over two pipes)
#: to start the server, so that it is the runner's own child; other ``accord``
#: commands run as usual.
_PRELUDE = """\
set -euo pipefail
__docs_serve() {
    env -0 > "$DOCS_SERVE_ENV"
    : > "$DOCS_SERVE_ARGS"
    [ $# -eq 0 ] || printf '%s\\0' "$@" > "$DOCS_SERVE_ARGS"
    echo serve >&"$DOCS_REQUEST_FD"
    local reply
    read -r reply <&"$DOCS_REPLY_FD"
    [ "$reply" = ok ] || { echo "$1: $reply" >&2; return 1; }
}
accord() {
    if [ "${1:-}" = serve ] || [ "${1:-} ${2:-}" = "registry serve" ]; then
        __docs_serve "$@"
    else
        command accord "$@"
    fi
}
uvicorn() { __docs_serve uvicorn "$@"; }
__docs_no_install() {
    echo "docs-test: '$*' would change the test environment; mark this block with" \
        "<!-- docs-test: skip installs packages --> on the line before its fence" >&2
    return 1
}
pip() { __docs_no_install pip "$@"; }
pip3() { __docs_no_install pip3 "$@"; }
python() {
    if [ "${1:-}" = -m ] && [ "${2:-}" = pip ]; then __docs_no_install python "$@"; fi
    command python "$@"
}
"""


def _read_env(path: Path) -> dict[str, str]:
    """The environment ``env -0`` wrote to ``path`` (bash's own variables left out)."""
    env = {}
    for item in path.read_bytes().decode().split("\0"):
        key, sep, value = item.partition("=")
        if (
            sep
            and not key.startswith(("BASH_FUNC_", "DOCS_"))
            and key not in {"_", "SHLVL"}
        ):
            env[key] = value
    return env


class BlockFailed(AssertionError):
    """A code block (or the server it started) did not do what the page says."""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _output(what: str, out: str | None, err: str | None) -> str:
    return f"{what}\n--- stdout\n{out or ''}\n--- stderr\n{err or ''}"


class _Server:
    """One server (``accord serve`` or ``uvicorn``) started by a page, in the background."""

    #: What a server prints once it listens.
    READY = ("Agent card: ", "Uvicorn running on ", "registry listening on ")

    def __init__(self, argv: list[str], folder: Path, env: dict[str, str]) -> None:
        self.command = shlex.join([Path(argv[0]).name, *argv[1:]])
        self.process = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def output(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return "".join(self._output)

    def wait_started(self, where: str) -> None:
        """Block until the server says it listens, or fail with what it printed."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        line: str | None = ""
        try:
            while line is not None and not any(r in line for r in self.READY):
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            line = None
        if line is None:
            self.kill()
            raise BlockFailed(
                _output(f"{where}: `{self.command}` did not start", self.output(), "")
            )

    def stop(self, where: str) -> None:
        """Ctrl-C the server; it must shut down cleanly (exit 0, no traceback)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BlockFailed(
                f"{where}: `{self.command}` did not stop on Ctrl-C"
            ) from None
        self._close()
        if code != 0 or "Traceback" in self.output():
            raise BlockFailed(
                _output(f"{where}: `{self.command}` exited {code}", self.output(), "")
            )

    def kill(self) -> None:
        """Stop the server at once (after a failure) and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        self._reader.join(SERVER_STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()


class PageRunner:
    """Runs one page's blocks in order in ``folder``, against port ``port``."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.second_port = free_port()
        self.url = f"127.0.0.1:{port}"
        (folder / "examples").symlink_to(REPO / "examples")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ACCORD_", "PYTEST_"))
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env
        self._servers: dict[int, _Server] = {}
        self._last = "(page start)"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            if exc_info[0] is None:
                server.stop(f"{self._last} (end of page)")
            else:
                server.kill()

    def run(self, block: Block) -> None:
        """Run ``block``.

        Raises:
            BlockFailed: it exited non-zero, timed out, or its server misbehaved.
        """
        self._last = block.where
        code = _URL.sub(lambda m: f"{m[1]}:{self.port}", block.code)
        code = _SECOND.sub(lambda m: f"{m[1]}{self.second_port}", code)
        if block.title is not None:
            (self.folder / block.title).write_text(code, encoding="utf-8")
        if not block.runs:
            return
        self._needs_server(code, block)
        if block.lang == "python":
            script = self.folder / (block.title or f"_block_{block.line}.py")
            script.write_text(code, encoding="utf-8")
            self._process(block, [sys.executable, script.name])
        else:
            self._shell(block, code)

    def _needs_server(self, code: str, block: Block) -> None:
        if self.port not in self._servers and self.url in code:
            self._serve(["serve"], f"{block.where} (Receptionist fixture)", self.env)
            key = (self.folder / "receptionist.key").read_text().strip()
            self.env.setdefault("ACCORD_API_KEY", key)

    def _serve(self, args: list[str], where: str, env: dict[str, str]) -> None:
        """Stop the server running on the same port, if any, then start ``accord serve
        ...`` or ``uvicorn ...`` (``args[0]``) on the page's port (or on its second
        port, when ``args`` ask for it)."""
        second = str(self.second_port)
        asks = f"--port={second}" in args or any(
            pair == ("--port", second) for pair in itertools.pairwise(args)
        )
        port = self.second_port if asks else self.port
        old = self._servers.pop(port, None)
        if old is not None:
            old.stop(where)
        bin_dir = Path(sys.executable).parent
        if args[0] in ("serve", "registry"):
            command = args[: args.index("serve") + 1]  # serve, or registry serve
            argv = [
                str(bin_dir / "accord"),
                *command,
                "--port",
                str(self.port),
                *args[len(command) :],
            ]
        else:
            argv = [str(bin_dir / args[0]), "--port", str(self.port), *args[1:]]
        server = _Server(argv, self.folder, env)
        server.wait_started(where)
        self._servers[port] = server

    def _shell(self, block: Block, code: str) -> None:
        """Run a shell block, serving its ``accord serve`` requests as they come."""
        files = {
            name: self.folder / f".{name}" for name in ("env", "serve-env", "args")
        }
        script = self.folder / f"_block_{block.line}.sh"
        script.write_text(
            f"{_PRELUDE}{code}\nenv -0 > {files['env']}\n", encoding="utf-8"
        )
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        env = {
            **self.env,
            "DOCS_SERVE_ENV": str(files["serve-env"]),
            "DOCS_SERVE_ARGS": str(files["args"]),
            "DOCS_REQUEST_FD": str(request_w),
            "DOCS_REPLY_FD": str(reply_r),
        }
        out, err = (
            (self.folder / ".stdout").open("w+"),
            (self.folder / ".stderr").open("w+"),
        )
        failure: BlockFailed | None = None
        with (
            out,
            err,
            open(request_r, "rb", buffering=0) as requests,
            open(reply_w, "wb", 0) as replies,
        ):
            process = subprocess.Popen(
                ["bash", script.name],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(request_w, reply_r),
            )
            os.close(request_w)
            os.close(reply_r)
            deadline = time.monotonic() + BLOCK_TIMEOUT
            try:
                while (left := deadline - time.monotonic()) > 0:
                    if not select.select([requests], [], [], left)[0]:
                        continue
                    if not requests.readline():
                        break  # the block ended: it closed its end of the pipe
                    try:
                        args = files["args"].read_bytes().decode().split("\0")[:-1]
                        self._serve(args, block.where, _read_env(files["serve-env"]))
                    except BlockFailed as exc:
                        failure = exc
                        replies.write(b"the server did not start\n")
                    else:
                        replies.write(b"ok\n")
                code_ = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                code_ = None
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if failure is not None:
            raise failure
        if code_ != 0:
            what = (
                f"still running after {BLOCK_TIMEOUT:.0f} s"
                if code_ is None
                else f"`{block.lang}` block exited {code_}"
            )
            raise BlockFailed(_output(f"{block.where}: {what}", stdout, stderr))
        self.env = _read_env(files["env"])

    def _process(self, block: Block, argv: list[str]) -> None:
        try:
            done = subprocess.run(
                argv,
                cwd=self.folder,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BlockFailed(
                _output(
                    f"{block.where}: still running after {BLOCK_TIMEOUT:.0f} s",
                    str(exc.stdout),
                    str(exc.stderr),
                )
            ) from None
        if done.returncode != 0:
            raise BlockFailed(
                _output(
                    f"{block.where}: `{block.lang}` block exited {done.returncode}",
                    done.stdout,
                    done.stderr,
                )
            )
