"""Signed push notifications: a JWS over the webhook request's body (an Accord
extension to spec §4.3.3, :data:`~accord.protocol.push.SIGNED_PUSH_EXTENSION`).

The token and ``Authorization`` of spec §13.2 tell a receiver that the sender knew a
secret the receiver handed out; a signature tells it *which agent* sent the
notification and that nothing in it changed, with no shared secret at all: the agent
signs with its private key and publishes the public half in the JWK Set its card
names.

The signature travels in the ``Accord-Signature`` header as a detached JWS (RFC 7515
Appendix F): ``protected..signature``, the payload being the body as sent. The
protected header carries ``alg`` and ``kid``, ``typ`` :data:`JWS_TYPE`, and the claims
a receiver checks: ``nid`` (the notification id, to drop replays of one
notification), ``aud`` (the webhook URL it was sent to, so it cannot be replayed to
another receiver) and ``iat`` (when it was signed, to refuse stale ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.errors import SignatureError, TokenError

from ._jws import decode_header, sign, verify

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .jose import JWK, JWKSet

__all__ = [
    "DEFAULT_MAX_AGE",
    "JWS_TYPE",
    "SignedNotification",
    "sign_notification",
    "verify_notification",
]

#: ``typ`` of a notification's JWS, so that no other JWS the key made passes for one.
JWS_TYPE = "accord-push+jws"
#: Seconds a signed notification stays acceptable after it was signed (retries of one
#: notification are signed again, so only a replay is this old).
DEFAULT_MAX_AGE = 300.0
#: Seconds a signature may seem to come from the future (clocks differ).
_SKEW = 60.0


@dataclass(frozen=True, slots=True)
class SignedNotification:
    """A verified notification signature: who signed, for which notification."""

    key: JWK
    notification_id: str
    audience: str
    issued_at: float


def sign_notification(
    body: bytes,
    key: JWK,
    *,
    notification_id: str,
    audience: str,
    now: float | None = None,
) -> str:
    """The ``Accord-Signature`` value for ``body`` sent to ``audience`` (the webhook
    URL): a detached JWS.

    Raises:
        ValueError: ``key`` is not a private key.
    """
    protected, signature = sign(
        body,
        key,
        header={
            "typ": JWS_TYPE,
            "nid": notification_id,
            "aud": audience,
            "iat": int(time.time() if now is None else now),
        },
    )
    return f"{protected}..{signature}"


def verify_notification(
    signature: str,
    body: bytes,
    keys: JWKSet | Iterable[JWK],
    *,
    audience: str | None = None,
    notification_id: str | None = None,
    max_age: float = DEFAULT_MAX_AGE,
    now: float | None = None,
) -> SignedNotification:
    """Check the ``Accord-Signature`` of a received notification.

    ``keys`` are the sender's (the JWK Set its card names); ``audience`` is this
    receiver's URL as the sender was told it, and ``notification_id`` the request's
    ``Accord-Notification-Id``: both must be what was signed when given.

    Raises:
        SignatureError: malformed, tampered, signed by no key in ``keys``, or not a
            notification signature.
        TokenError: signed for another receiver or notification, or too old.
        AlgorithmError, UnknownKeyError, KeyExpiredError: as for any JWS.
    """
    protected, separator, sig = signature.strip().partition("..")
    if not separator or not protected or not sig or "." in sig:
        raise SignatureError(
            "Accord-Signature is not a detached JWS (protected..signature)"
        )
    header = decode_header(protected)
    if header.get("typ") != JWS_TYPE:
        raise SignatureError(
            f"the JWS is not a push notification signature ({JWS_TYPE})"
        )
    checked, key = verify(protected, body, sig, keys, now=now)
    nid, aud, issued = checked.get("nid"), checked.get("aud"), checked.get("iat")
    if (
        not isinstance(nid, str)
        or not isinstance(aud, str)
        or not isinstance(issued, int | float)
        or isinstance(issued, bool)
    ):
        raise SignatureError("the notification signature lacks nid, aud or iat")
    iat = float(issued)
    if audience is not None and aud != audience:
        raise TokenError(
            f"the notification was signed for {aud!r}, not this receiver",
            reason="audience",
        )
    if notification_id is not None and nid != notification_id:
        raise TokenError(
            "the signature is of another notification", reason="notification"
        )
    moment = time.time() if now is None else now
    if iat > moment + _SKEW:
        raise TokenError("the notification was signed in the future", reason="future")
    if moment - iat > max_age:
        raise TokenError(
            f"the notification was signed {int(moment - iat)} s ago (at most "
            f"{int(max_age)} s are accepted)",
            reason="expired",
        )
    return SignedNotification(key, nid, aud, iat)
