"""The fast clock and id helpers agree with the slow, obvious versions."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from accord._clock import new_id, now_timestamp
from accord.types import normalize_timestamp, parse_timestamp


def test_now_timestamp_is_canonical_and_current() -> None:
    before = datetime.now(UTC)
    stamp = now_timestamp()
    after = datetime.now(UTC)
    assert normalize_timestamp(stamp) == stamp  # canonical: UTC, Z, 3 digits
    moment = parse_timestamp(stamp)
    assert (
        before.replace(microsecond=before.microsecond // 1000 * 1000) <= moment <= after
    )


def test_now_timestamp_is_monotonic_across_second_boundaries() -> None:
    stamps = []
    end = time.time() + 1.05  # crosses at least one second boundary
    while time.time() < end:
        stamps.append(now_timestamp())
    assert stamps == sorted(stamps)
    assert len({s[:19] for s in stamps}) >= 2


def test_new_id_is_a_version_4_uuid() -> None:
    # Every one of several batches (_clock._BATCH), the first and last of each too.
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    # new_id reads random bytes ahead; a child made by fork must not reuse the rest.
    code = (
        "import os\n"
        "from accord._clock import new_id\n"
        "new_id()\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.write(w, ' '.join(new_id() for _ in range(3)).encode())\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print(os.read(r, 1000).decode())\n"
        "print(' '.join(new_id() for _ in range(3)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    child, parent = (set(line.split()) for line in out.stdout.splitlines())
    assert len(child) == len(parent) == 3
    assert not child & parent
