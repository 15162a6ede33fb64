"""The API keys the Receptionist accepts: from ``$ACCORD_API_KEYS`` or a generated demo key.

The demo key is generated once. Only its SHA-256 is kept in the SQLite file (table
``api_keys``); the key itself goes to ``receptionist.key`` next to that file, created
owner-only (0600) from the start, and is never printed. A key file that other users
can read is used but warned about (once, on stderr); a file that does not hold a key
is refused with what to do. When the file is gone (or holds a key the database does
not know), a new key replaces the old one, which stops working: rotation.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from accord.server.auth import ApiKey, ApiKeyRing, generate_api_key, hash_api_key

from ._store import create_private

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DEMO_PRINCIPAL", "KEYS_ENV", "KEY_FILE", "load_api_keys"]

#: Environment variable with the accepted keys: ``KEY`` or ``name=KEY``, comma-separated.
KEYS_ENV = "ACCORD_API_KEYS"
#: The file, next to the SQLite file, the generated demo key is written to.
KEY_FILE = "receptionist.key"
#: The principal of the generated demo key.
DEMO_PRINCIPAL = "demo"

_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL
);
"""

#: Key files already warned about in this process (the warning is given once).
_warned: set[Path] = set()


def _keys_from_env(value: str) -> ApiKeyRing:
    ring = ApiKeyRing()
    entries = [e.strip() for e in re.split(r"[,\s]+", value) if e.strip()]
    if not entries:
        raise ValueError(f"{KEYS_ENV} is set but lists no key")
    for entry in entries:
        name, sep, key = entry.partition("=")
        if not sep:
            name, key = "", entry
        try:
            digest = hash_api_key(key)
        except ValueError as exc:
            raise ValueError(f"{KEYS_ENV}: {exc}") from None
        principal = name or "key-" + digest.removeprefix("sha256:")[:8]
        ring.add(key, principal=principal)
    return ring


def _read_key_file(path: Path) -> str | None:
    """The key in ``path``, or None when there is no such file.

    Warns (stderr, once per file) when group or others may read it.

    Raises:
        ValueError: the file does not hold one key (says to delete it).
    """
    try:
        mode = path.stat().st_mode
        content = path.read_bytes()
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and path not in _warned:
        _warned.add(path)
        print(
            f"accord: warning: {path} (mode {stat.S_IMODE(mode):04o}) can be read by "
            f"other users; make it private: chmod 600 {path}",
            file=sys.stderr,
            flush=True,
        )
    try:
        key = content.decode("utf-8").strip()
        if not key or any(c.isspace() for c in key):
            raise ValueError("it must hold exactly one key, on one line")
        hash_api_key(key)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        why = "it is not text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ValueError(
            f"{path} does not hold a valid API key ({why}); delete it and start the "
            f"server again to generate a new key, or list your keys in ${KEYS_ENV}"
        ) from None
    return key


def _write_key_file(path: Path, key: str) -> None:
    """Replace ``path`` with ``key``: a new file created 0600, renamed over the old."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _demo_key(db: str) -> ApiKeyRing:
    """The demo key: generated once, only its hash kept in ``db``, the key in a file.

    Raises:
        ValueError: the key file is malformed, or ``db`` cannot be created.
    """
    key_path = Path(db).parent / KEY_FILE
    written = _read_key_file(key_path)
    create_private(db)
    with closing(sqlite3.connect(db, timeout=5.0, isolation_level=None)) as conn:
        conn.executescript(_KEYS_SCHEMA)
        rows = conn.execute(
            "SELECT hash, principal, expires_at FROM api_keys"
        ).fetchall()
        stored = {row[0] for row in rows if row[2] is None}
        if written is not None and hash_api_key(written) in stored:
            print(f"Using the API key in {key_path}", flush=True)
        else:
            key = generate_api_key()
            conn.execute("BEGIN IMMEDIATE")
            try:
                # The previous demo key (its file is gone) stops working: rotation.
                conn.execute(
                    "UPDATE api_keys SET expires_at = ? "
                    "WHERE principal = ? AND expires_at IS NULL",
                    (time.time(), DEMO_PRINCIPAL),
                )
                conn.execute(
                    "INSERT INTO api_keys (hash, principal, created_at) "
                    "VALUES (?, ?, ?)",
                    (
                        hash_api_key(key),
                        DEMO_PRINCIPAL,
                        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    ),
                )
                _write_key_file(key_path, key)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            print(f"API key written to {key_path}", flush=True)
            rows = conn.execute(
                "SELECT hash, principal, expires_at FROM api_keys"
            ).fetchall()
    return ApiKeyRing(ApiKey(hash=h, principal=p, expires_at=e) for h, p, e in rows)


def load_api_keys(db: str, env: Mapping[str, str] = os.environ) -> ApiKeyRing:
    """The keys the Receptionist accepts: ``$ACCORD_API_KEYS``, else the demo key.

    Raises:
        ValueError: ``ACCORD_API_KEYS`` lists no key or a key that is too short; the
            demo key file does not hold a key; ``db`` cannot be created.
    """
    value = env.get(KEYS_ENV)
    if value is not None:
        return _keys_from_env(value)
    return _demo_key(db)
