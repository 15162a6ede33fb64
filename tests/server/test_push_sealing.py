"""Push configs sealed at rest (accord.server.push.sealing): what a stolen database
reveals (nothing), what rotation keeps readable, and what tampering breaks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from accord.server.push import (
    ConfigSealer,
    SealError,
    generate_key,
    generate_key_file,
    load_key,
)
from accord.types import AuthenticationInfo, TaskPushNotificationConfig

CONFIG = TaskPushNotificationConfig(
    task_id="t-1",
    id="c-1",
    url="https://hooks.example.com/a2a",
    token="notification-token",
    authentication=AuthenticationInfo(scheme="Bearer", credentials="very-secret"),
)


def test_a_sealed_config_opens_to_itself_and_hides_its_secrets() -> None:
    sealer = ConfigSealer([generate_key()])
    sealed = sealer.seal(CONFIG)
    for secret in (b"very-secret", b"notification-token", b"hooks.example.com"):
        assert secret not in sealed
    assert sealer.open(sealed, task_id="t-1", config_id="c-1") == CONFIG
    # A fresh nonce each time: equal configs do not look equal at rest.
    assert sealer.seal(CONFIG) != sealed


def test_rotation_opens_with_an_old_key_and_seals_with_the_new() -> None:
    old, new = generate_key(), generate_key()
    sealed_before = ConfigSealer([old]).seal(CONFIG)
    rotated = ConfigSealer([new, old])
    assert rotated.open(sealed_before, task_id="t-1", config_id="c-1") == CONFIG
    sealed_after = rotated.seal(CONFIG)
    assert ConfigSealer([new]).open(sealed_after, task_id="t-1", config_id="c-1")
    with pytest.raises(SealError, match="key this server does not have"):
        ConfigSealer([old]).open(sealed_after, task_id="t-1", config_id="c-1")


@pytest.mark.parametrize(
    ("task_id", "config_id"), [("t-2", "c-1"), ("t-1", "c-2"), ("t-1c", "-1")]
)
def test_a_config_moved_to_another_row_does_not_open(
    task_id: str, config_id: str
) -> None:
    sealer = ConfigSealer([generate_key()])
    with pytest.raises(SealError):
        sealer.open(sealer.seal(CONFIG), task_id=task_id, config_id=config_id)


def test_an_altered_config_does_not_open() -> None:
    sealer = ConfigSealer([generate_key()])
    sealed = bytearray(sealer.seal(CONFIG))
    sealed[-1] ^= 1
    with pytest.raises(SealError, match="altered"):
        sealer.open(bytes(sealed), task_id="t-1", config_id="c-1")
    for junk in (b"", b"\x01", b"\x02" + bytes(40)):
        with pytest.raises(SealError, match="not a sealed push config"):
            sealer.open(junk, task_id="t-1", config_id="c-1")


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        ConfigSealer([])
    with pytest.raises(ValueError, match="32 bytes"):
        ConfigSealer([b"short"])


def test_key_files_are_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "push.key"
    key = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == key
    with pytest.raises(FileExistsError):
        generate_key_file(path)
    path.write_text("not base64 at all!\n")
    with pytest.raises(ValueError, match="base64"):
        load_key(path)
    path.write_text("c2hvcnQ=\n")  # "short"
    with pytest.raises(ValueError, match="5-byte key"):
        load_key(path)
