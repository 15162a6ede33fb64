"""Signed push notifications (accord.security.push): a receiver accepts exactly what
the agent signed, for it, recently, and refuses everything else."""

from __future__ import annotations

import pytest

from accord.errors import SignatureError, TokenError, UnknownKeyError
from accord.security import JWK, JWKSet
from accord.security.jose import sign
from accord.security.push import JWS_TYPE, sign_notification, verify_notification

BODY = b'{"statusUpdate":{"taskId":"t-1","status":{"state":"TASK_STATE_COMPLETED"}}}'
HOOK = "https://hooks.example.com/a2a"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def key() -> JWK:
    return JWK.generate("ES256", kid="agent-key")


def signed(key: JWK, **overrides: object) -> str:
    values: dict[str, object] = {
        "notification_id": "t-1/c/1",
        "audience": HOOK,
        "now": NOW,
    }
    values.update(overrides)
    return sign_notification(BODY, key, **values)  # type: ignore[arg-type]


def test_a_signature_verifies_and_names_what_was_signed(key: JWK) -> None:
    result = verify_notification(
        signed(key),
        BODY,
        JWKSet((key.public(),)),
        audience=HOOK,
        notification_id="t-1/c/1",
        now=NOW + 10,
    )
    assert (result.key.kid, result.notification_id, result.audience) == (
        "agent-key",
        "t-1/c/1",
        HOOK,
    )
    assert result.issued_at == NOW
    # Without expectations, only the signature and its age are checked.
    assert verify_notification(signed(key), BODY, [key.public()], now=NOW)


@pytest.mark.parametrize(
    "value",
    ["", "abc", "a.b.c", "a..b.c", "..sig", "protected.."],
)
def test_malformed_values_are_refused(key: JWK, value: str) -> None:
    with pytest.raises(SignatureError):
        verify_notification(value, BODY, [key.public()], now=NOW)


def test_a_changed_body_or_another_key_is_refused(key: JWK) -> None:
    with pytest.raises(SignatureError, match="does not verify"):
        verify_notification(signed(key), BODY + b" ", [key.public()], now=NOW)
    other = JWK.generate("ES256", kid="agent-key")
    with pytest.raises(SignatureError):
        verify_notification(signed(key), BODY, [other.public()], now=NOW)
    stranger = JWK.generate("ES256", kid="stranger")
    with pytest.raises(UnknownKeyError):
        verify_notification(signed(key), BODY, [stranger.public()], now=NOW)


@pytest.mark.parametrize(
    ("expect", "reason"),
    [
        ({"audience": "https://other.example.com/"}, "audience"),
        ({"notification_id": "t-1/c/2"}, "notification"),
        ({"now": NOW + 301}, "expired"),
        ({"now": NOW - 61}, "future"),
        ({"now": NOW + 20, "max_age": 10}, "expired"),
    ],
)
def test_claims_that_do_not_fit_are_refused(
    key: JWK, expect: dict[str, object], reason: str
) -> None:
    with pytest.raises(TokenError) as refused:
        verify_notification(signed(key), BODY, [key.public()], **{"now": NOW, **expect})  # type: ignore[arg-type]
    assert refused.value.reason == reason


def test_other_signatures_of_the_same_key_do_not_pass(key: JWK) -> None:
    # A JWS the key made for something else (no typ, or claims missing) is refused.
    protected, signature = sign(BODY, key)
    with pytest.raises(SignatureError, match="not a push notification signature"):
        verify_notification(f"{protected}..{signature}", BODY, [key.public()], now=NOW)
    protected, signature = sign(BODY, key, header={"typ": JWS_TYPE, "nid": "x"})
    with pytest.raises(SignatureError, match="lacks nid, aud or iat"):
        verify_notification(f"{protected}..{signature}", BODY, [key.public()], now=NOW)
    protected, signature = sign(
        BODY, key, header={"typ": JWS_TYPE, "nid": "x", "aud": HOOK, "iat": True}
    )
    with pytest.raises(SignatureError, match="lacks nid, aud or iat"):
        verify_notification(f"{protected}..{signature}", BODY, [key.public()], now=NOW)
