"""Turn a py-spy ``--format raw`` profile (collapsed stacks) into per-component shares.

Two views of the same samples:

* **self time by component**: each sample is charged to the innermost frame that
  belongs to a known component (walking from the leaf towards the root), so a sample
  inside ``uuid.uuid4`` called by the runtime counts as "ids + timestamps", one inside
  h11 as "HTTP (uvicorn + h11)". Shares add up to 100 %.
* **inclusive time of key functions**: the share of samples with that function anywhere
  on the stack (request parsing, the handler, the agent, the store, ...). These overlap.

Recorded with ``py-spy record --nonblocking`` (Python frames only). On this kind of VM
the default (blocking) sampler is biased: a paused thread stops at its next syscall, so
frames that make syscalls (``asyncio.get_running_loop``, which calls ``getpid()`` on
3.11; socket writes) collect far more samples than the time they take, and
``--native`` cannot be combined with ``--nonblocking``. Time in C code (msgspec, the
cyclic GC, syscalls) is therefore charged to the Python frame that called it; the GC
is measured separately (``gc.callbacks`` in the server, see ``bench.py``). If the
profile has native frames anyway, the ones that matter get their own component.

Run alone: ``python bench/profile_report.py profile.txt``.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass

#: (component, pattern on one frame "function (file:line)"), tried in order per frame.
COMPONENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ids + timestamps (uuid4, now_timestamp)",
        re.compile(r"^(uuid4|now_timestamp|format_timestamp) |\(uuid\.py:|datetime"),
    ),
    (
        "HTTP server (uvicorn + h11/httptools)",
        re.compile(r"\((uvicorn|h11|httptools)/"),
    ),
    ("wire model encode/decode (accord.types, msgspec)", re.compile(r"accord/types/")),
    ("JSON-RPC binding (accord.bindings)", re.compile(r"accord/bindings/")),
    ("ASGI layer (accord.server.asgi)", re.compile(r"accord/server/asgi\.py")),
    (
        "request handler (accord.server.handler)",
        re.compile(r"accord/server/handler\.py"),
    ),
    (
        "runtime + recorder (accord.server.runtime)",
        re.compile(r"accord/server/runtime\.py"),
    ),
    ("broker (accord.server.broker)", re.compile(r"accord/server/broker\.py")),
    ("agent API (accord.server.agent)", re.compile(r"accord/server/agent\.py")),
    ("task store (accord.stores)", re.compile(r"accord/stores/")),
    ("protocol tables (accord.protocol)", re.compile(r"accord/protocol/")),
    ("accord (other)", re.compile(r"accord/")),
    ("anyio (task group, streams, locks, events)", re.compile(r"\(anyio/")),
    ("sqlite3 / threads", re.compile(r"\((sqlite3|threading\.py|concurrent/)")),
    ("the echo agent itself (bench)", re.compile(r"\(accord_server\.py")),
    ("asyncio event loop + transports", re.compile(r"\((asyncio/|selectors\.py)")),
)

#: Key functions for the inclusive view: (label, pattern on one frame).
KEY_FUNCTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "uvicorn: parse request (data_received / handle_events)",
        re.compile(
            r"^H11Protocol\.(data_received|handle_events) |^HttpToolsProtocol\.data_received "
        ),
    ),
    (
        "uvicorn: send response (RequestResponseCycle.send)",
        re.compile(r"^RequestResponseCycle\.send "),
    ),
    (
        "A2AApp._jsonrpc (everything of one JSON-RPC request)",
        re.compile(r"^A2AApp\._jsonrpc "),
    ),
    ("  A2AApp._read_body", re.compile(r"^A2AApp\._read_body ")),
    (
        "  jsonrpc.parse_request (decode)",
        re.compile(r"^parse_request \(accord/bindings/jsonrpc"),
    ),
    ("  RequestHandler.send_message", re.compile(r"^RequestHandler\.send_message ")),
    ("    RequestHandler._prepare", re.compile(r"^RequestHandler\._prepare ")),
    (
        "    RequestHandler._start (subscribe + spawn)",
        re.compile(r"^RequestHandler\._start "),
    ),
    (
        "    Subscription.__anext__ (waiting side)",
        re.compile(r"^Subscription\.__anext__ "),
    ),
    (
        "  jsonrpc.encode_result (encode)",
        re.compile(r"^encode_result \(accord/bindings/jsonrpc"),
    ),
    (
        "  _respond (ASGI send of the answer)",
        re.compile(r"^_respond \(accord/server/asgi"),
    ),
    ("Runtime._run (the execution, incl. agent)", re.compile(r"^Runtime\._run ")),
    ("  the echo agent function", re.compile(r"^echo \(.*accord_server\.py")),
    (
        "  Recorder._create_if_needed (task creation)",
        re.compile(r"^Recorder\._create_if_needed "),
    ),
    ("  Recorder._write (append + publish)", re.compile(r"^Recorder\._write ")),
    ("  lifecycle.apply", re.compile(r"^apply \(accord/protocol/lifecycle")),
    ("task store calls (accord.stores)", re.compile(r"\(accord/stores/")),
    ("Broker.publish", re.compile(r"^Broker\.publish ")),
    ("uuid4", re.compile(r"^uuid4 ")),
    ("now_timestamp", re.compile(r"^now_timestamp ")),
    ("anyio (any frame)", re.compile(r"\(anyio/")),
    ("cyclic GC", re.compile(r"gc_collect|^<cyclic GC>")),
    ("getpid syscalls", re.compile(r"^getpid ")),
)

#: Components decided by native frames: (component, pattern on the leaf frame).
NATIVE_LEAF: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "getpid syscall (asyncio.get_running_loop, 3.11)",
        re.compile(r"^getpid "),
    ),
    (
        "socket + epoll syscalls",
        re.compile(
            r"^(__libc_)?(send|recv|sendto|recvfrom|sendmsg|writev|epoll_wait|epoll_ctl|accept4?|close) "
        ),
    ),
    ("ids + timestamps (uuid4, now_timestamp)", re.compile(r"^getrandom ")),
    ("SQLite engine (C, worker threads)", re.compile(r"sqlite3", re.IGNORECASE)),
)
_GC = "cyclic GC (gc_collect_main, wherever triggered)"
_PYTHON_FRAME = re.compile(r"\(([^()]*\.py|<string>|<frozen [^>]*>):\d+\)$")
_COUNT = re.compile(r"^(.*) (\d+)$")


@dataclass
class Profile:
    """Aggregated samples: busy total, self shares by component, inclusive shares."""

    busy: int
    by_component: list[tuple[str, int]]
    by_function: list[tuple[str, int]]

    def share(self, count: int) -> float:
        """``count`` as a percentage of busy samples."""
        return 100.0 * count / self.busy if self.busy else 0.0


def _component(frames: list[str]) -> str:
    if any(
        "gc_collect" in frame or frame.startswith("<cyclic GC>") for frame in frames
    ):
        return _GC
    if frames:
        for name, pattern in NATIVE_LEAF:
            if pattern.search(frames[-1]):
                return name
    for frame in reversed(frames):
        if not _PYTHON_FRAME.search(frame):
            continue  # a native frame: charged to its Python caller
        for name, pattern in COMPONENTS:
            if pattern.search(frame):
                return name
    return "other (stdlib, interpreter)"


def analyse(raw: str) -> Profile:
    """Aggregate the collapsed stacks of a py-spy raw profile."""
    components: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    busy = 0
    for line in raw.splitlines():
        match = _COUNT.match(line.strip())
        if not match:
            continue
        frames = match.group(1).split(";")
        count = int(match.group(2))
        busy += count
        components[_component(frames)] += count
        for label, pattern in KEY_FUNCTIONS:
            if any(pattern.search(frame) for frame in frames):
                functions[label] += count
    order = [label for label, _ in KEY_FUNCTIONS]
    return Profile(
        busy=busy,
        by_component=components.most_common(),
        by_function=[(label, functions[label]) for label in order],
    )


def markdown(profile: Profile, us_per_request: float | None = None) -> str:
    """The two views as Markdown tables (with µs per request when it is known)."""

    def cells(count: int) -> str:
        share = profile.share(count)
        if us_per_request is None:
            return f"{share:.1f} %"
        return f"{share:.1f} % | {share * us_per_request / 100:.0f}"

    unit = "" if us_per_request is None else " µs/request |"
    align = "" if us_per_request is None else "---:|"
    lines = [
        f"Samples: {profile.busy}.",
        "",
        "Self time by component (innermost known frame; adds up to 100 %):",
        "",
        f"| component | share |{unit}",
        f"|---|---:|{align}",
    ]
    lines += [f"| {name} | {cells(count)} |" for name, count in profile.by_component]
    lines += [
        "",
        "Inclusive time of key functions (share of samples with it on the stack):",
        "",
        f"| function | share |{unit}",
        f"|---|---:|{align}",
    ]
    lines += [
        f"| {label.replace('  ', '&nbsp;&nbsp;')} | {cells(count)} |"
        for label, count in profile.by_function
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print(markdown(analyse(f.read())))
