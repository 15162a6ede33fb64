"""Push notifications on the wire (spec §4.3.3): what a webhook request carries.

The body is the ``StreamResponse`` of one task event, as a stream would carry it, in
``application/a2a+json``. Headers:

* ``Authorization: <scheme> <credentials>`` from the config's ``authentication``
  (spec §4.3.3, §13.2);
* :data:`TOKEN_HEADER` with the config's ``token``, when it has one (v0.3 named the
  header; v1.0 leaves the token's transport open, and receivers built on the SDKs read
  this one);
* :data:`NOTIFICATION_ID_HEADER`: the same value on every attempt of one
  notification, so a receiver drops duplicates (delivery is at least once);
* :data:`SIGNATURE_HEADER`, when the agent signs its notifications (the
  :data:`SIGNED_PUSH_EXTENSION` in its card): a JWS over the body
  (:mod:`accord.security.push`).
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = [
    "MEDIA_TYPE",
    "NOTIFICATION_ID_HEADER",
    "SIGNATURE_HEADER",
    "SIGNED_PUSH_EXTENSION",
    "TOKEN_HEADER",
    "notification_id",
]

#: The body's media type (spec §11.1).
MEDIA_TYPE = "application/a2a+json"
#: The notification token's header.
TOKEN_HEADER = "X-A2A-Notification-Token"
#: One notification's id, the same on every delivery attempt.
NOTIFICATION_ID_HEADER = "Accord-Notification-Id"
#: The detached JWS over the body (``protected..signature``).
SIGNATURE_HEADER = "Accord-Signature"
#: The A2A extension (spec §4.6) an agent's card declares when it signs its push
#: notifications; its ``params.jwksUrl`` names the JWK Set holding the keys.
SIGNED_PUSH_EXTENSION = "urn:accord:a2a:signed-push-notifications:v1"


def notification_id(task_id: str, config_id: str, seq: int) -> str:
    """The id of the notification of event ``seq`` of a task to one config:
    ``task/config/seq``, each id percent-encoded so that the parts stay apart."""
    return f"{quote(task_id, safe='')}/{quote(config_id, safe='')}/{seq}"
