"""Push-notification configs sealed at rest: AES-256-GCM under a configured key.

A config carries secrets (spec §4.3: the webhook's ``token`` and the
``authentication`` credentials the agent presents to it; spec §13.2 asks agents to
store them securely), so the store only ever sees it encrypted. The sealed form is::

    0x01 | key id (8 bytes) | nonce (12 bytes) | AES-GCM(ciphertext + tag)

with the task and config ids as associated data, so a sealed config copied onto
another row does not open. The key id (the first 8 bytes of the key's SHA-256)
lets keys rotate: the first key seals, every key given opens what it sealed.
Keys are 32 random bytes, kept in a file as URL-safe base64 (:func:`load_key`,
:func:`generate_key_file`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from accord.types import TaskPushNotificationConfig, decode, encode

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_BYTES",
    "ConfigSealer",
    "SealError",
    "generate_key",
    "generate_key_file",
    "load_key",
    "load_or_create_key",
]

#: The length of a key: AES-256.
KEY_BYTES = 32
_VERSION = b"\x01"
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_HEADER = len(_VERSION) + _KEY_ID_BYTES + _NONCE_BYTES
_CONTEXT = b"accord push config\x00"


class SealError(Exception):
    """A sealed config cannot be opened: no key of its id, or it was altered."""


def _aesgcm(key: bytes) -> AESGCM:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - the push extra is installed in tests
        raise RuntimeError(
            "push notifications need the cryptography package: "
            "pip install 'accord[push]'"
        ) from None
    return AESGCM(key)


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_KEY_ID_BYTES]


class ConfigSealer:
    """Seals and opens push configs with ``keys`` (the first seals; all open).

    Raises:
        ValueError: no key, or a key that is not :data:`KEY_BYTES` long.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a ConfigSealer needs at least one key")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"a push-config key is {KEY_BYTES} bytes (got {len(key)}); "
                    "make one with accord.server.push.generate_key()"
                )
        self._sealing_id = _key_id(keys[0])
        self._sealing = _aesgcm(keys[0])
        self._opening = {_key_id(key): _aesgcm(key) for key in reversed(keys)}

    def seal(self, config: TaskPushNotificationConfig) -> bytes:
        """The sealed form of ``config`` (bound to its task and config ids)."""
        nonce = os.urandom(_NONCE_BYTES)
        aad = _aad(config.task_id, config.id)
        sealed = self._sealing.encrypt(nonce, encode(config), aad)
        return _VERSION + self._sealing_id + nonce + sealed

    def open(
        self, data: bytes, *, task_id: str, config_id: str
    ) -> TaskPushNotificationConfig:
        """The config sealed in ``data`` for this task and config id.

        Raises:
            SealError: ``data`` was not sealed with one of these keys for these ids,
                or was altered.
        """
        if len(data) <= _HEADER or data[:1] != _VERSION:
            raise SealError("not a sealed push config")
        cipher = self._opening.get(data[1 : 1 + _KEY_ID_BYTES])
        if cipher is None:
            raise SealError(
                "the push config was sealed with a key this server does not have "
                "(give every key still in use, newest first)"
            )
        nonce = data[1 + _KEY_ID_BYTES : _HEADER]
        try:
            from cryptography.exceptions import InvalidTag

            plain = cipher.decrypt(nonce, data[_HEADER:], _aad(task_id, config_id))
        except InvalidTag:
            raise SealError("the sealed push config was altered") from None
        config = decode(plain, TaskPushNotificationConfig)
        if config.task_id != task_id or config.id != config_id:
            raise SealError("the sealed push config belongs to another row")
        return config


def _aad(task_id: str, config_id: str) -> bytes:
    return _CONTEXT + task_id.encode() + b"\x00" + config_id.encode()


def generate_key() -> bytes:
    """A new random key."""
    return os.urandom(KEY_BYTES)


def load_key(path: str | Path) -> bytes:
    """The key in the file at ``path`` (URL-safe base64 of :data:`KEY_BYTES` bytes).

    Raises:
        OSError: the file cannot be read.
        ValueError: it does not hold a key.
    """
    text = Path(path).read_text(encoding="ascii").strip()
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, ValueError):
        raise ValueError(f"{path} does not hold a base64 push-config key") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} holds a {len(key)}-byte key; {KEY_BYTES} are needed")
    return key


def generate_key_file(path: str | Path) -> bytes:
    """Write a new key to ``path`` (created owner-only, 0600; never overwritten).

    Raises:
        FileExistsError: ``path`` exists.
        OSError: it cannot be written.
    """
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
    return key


def load_or_create_key(path: str | Path) -> bytes:
    """The key in the file at ``path``, made there (owner-only) if it does not exist:
    the embedded default, a key file beside a SQLite database.

    Raises:
        OSError: the file cannot be read or made.
        ValueError: it does not hold a key.
    """
    try:
        return generate_key_file(path)
    except FileExistsError:
        return load_key(path)
