"""``accord serve``'s push options: where the key that seals webhook configs comes
from, and the egress allow-list, for an Agent and for an app a factory made."""

from __future__ import annotations

import argparse
import base64
import stat
from pathlib import Path

import pytest

from accord.cli._errors import UsageError
from accord.cli.commands._push_options import KEY_ENV, configure_push, push_settings
from accord.cli.commands.serve import load_app
from accord.cli.main import build_parser
from accord.server.push import generate_key, generate_key_file

PG = "postgresql://127.0.0.1:5432/unused"


def flags(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_a_sqlite_agent_gets_a_key_beside_its_file(tmp_path: Path) -> None:
    db = str(tmp_path / "tasks.db")
    app, _ = load_app("tests.cli.agents:pushy", db, flags())
    assert app.engine.push is not None
    key_file = Path(db + ".push-key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Plain http to a private address is refused unless allow-listed.
    assert not app.engine.push.settings.egress.allow


def test_the_allow_list_and_a_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "push.key"
    key = generate_key_file(key_file)
    args = flags(
        "--push-allow", "127.0.0.1", "--push-allow", "hooks.internal",
        "--push-key-file", str(key_file),
    )  # fmt: skip
    settings = push_settings(args, PG)
    assert settings.keys == (key,)
    settings.egress.check_url("http://hooks.internal:9000/hook")
    settings.egress.check_url("http://127.0.0.1:9000/hook")


def test_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv(KEY_ENV, base64.urlsafe_b64encode(key).decode())
    assert push_settings(flags(), PG).keys == (key,)
    monkeypatch.setenv(KEY_ENV, "not base64!")
    with pytest.raises(UsageError, match=KEY_ENV):
        push_settings(flags(), PG)


def test_no_key_leaves_it_to_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert push_settings(flags(), PG).keys == ()


def test_a_damaged_key_file_beside_the_database_is_a_usage_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tasks.db"
    Path(str(db) + ".push-key").write_text("damaged\n")
    with pytest.raises(UsageError, match="push-key"):
        load_app("tests.cli.agents:pushy", str(db), flags())


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--push-allow", "http://x/"], "--push-allow"),
        (["--push-key-file", "/nonexistent/push.key"], "push-notification key"),
    ],
)
def test_bad_flags_are_usage_errors(argv: list[str], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        push_settings(flags(*argv), PG)


def test_flags_apply_to_an_app_a_factory_made(tmp_path: Path) -> None:
    app, _ = load_app("tests.cli.agents:make_pushy_app", "unused.db", flags())
    before = app.engine.push
    assert before is not None
    configure_push(app, flags())  # nothing given: nothing changes
    assert app.engine.push is before
    key_file = tmp_path / "push.key"
    key = generate_key_file(key_file)
    configure_push(
        app, flags("--push-allow", "10.0.0.0/8", "--push-key-file", str(key_file))
    )
    after = app.engine.push
    assert after is not None
    assert after.settings.keys == (key,)
    after.settings.egress.check_url("http://10.1.2.3/hook")
    # An app whose agent declares no push is left alone.
    plain, _ = load_app("tests.cli.agents:make_app", "unused.db", flags())
    configure_push(plain, flags("--push-allow", "10.0.0.0/8"))
    assert plain.engine.push is None
