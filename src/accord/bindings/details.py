"""Error details shared by every binding (spec §3.3.2, §9.5, §10.6, §11.6).

Both bindings carry the same two typed detail objects next to an error's code and
message, each tagged with ``@type`` (ProtoJSON ``Any`` form, spec §3.3.2):

* ``google.rpc.ErrorInfo`` with the error's ``reason`` (``TASK_NOT_FOUND``...), the
  domain ``a2a-protocol.org`` and the error's ``metadata`` string map;
* ``google.rpc.BadRequest`` with ``fieldViolations`` when the error names bad fields.

JSON-RPC puts the list in ``error.data``, REST in ``error.details``.

What an error sends is bounded whatever built it (:func:`wire_message`,
:func:`build_details`): the message to :data:`MAX_MESSAGE` characters and each
metadata value and field violation to :data:`MAX_DETAIL` characters, so that an error
quoting a huge client-supplied value (a task id, a header) cannot amplify a request
into a far larger answer. Messages quote client input through
:func:`accord._quote.shorten` in the first place; these bounds are the backstop. Reading them back,
the ErrorInfo ``reason`` identifies the error class first (several errors share an HTTP
status, and peers built on the 1.0.0 tag use other codes, spec §5.4); the
binding-specific code is only the fallback. Detail objects we do not recognise are kept,
as a list, in ``ProtocolError.data``; non-list ``data`` from v0.3 peers is kept as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord._quote import shorten
from accord.errors import InternalError, ProtocolError
from accord.protocol.errors import DOMAIN, from_reason, spec_for

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BAD_REQUEST_TYPE",
    "ERROR_INFO_TYPE",
    "MAX_DETAIL",
    "MAX_MESSAGE",
    "WireDetails",
    "build_details",
    "make_error",
    "read_details",
    "wire_message",
]

ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

#: Longest error message sent, in characters.
MAX_MESSAGE = 2048
#: Longest metadata value, field name or violation description sent, in characters.
MAX_DETAIL = 512

# Type URLs may use any host prefix ("type.googleapis.com/..."); match on the name.
_ERROR_INFO_NAME = "/google.rpc.ErrorInfo"
_BAD_REQUEST_NAME = "/google.rpc.BadRequest"


def wire_message(error: ProtocolError) -> str:
    """The message of ``error`` as sent: at most :data:`MAX_MESSAGE` characters."""
    return shorten(error.message, MAX_MESSAGE)


def build_details(error: ProtocolError) -> list[dict[str, Any]]:
    """Return the typed detail objects for ``error``: ErrorInfo, then BadRequest.

    Extra typed details the error carries in ``data`` (a list of ``@type`` objects,
    e.g. relayed from a peer) follow, so that a relayed error keeps them.
    """
    info: dict[str, Any] = {
        "@type": ERROR_INFO_TYPE,
        "reason": spec_for(error).reason,
        "domain": DOMAIN,
    }
    if error.metadata:
        # map<string, string>: coerce so a careless non-string value cannot break it.
        info["metadata"] = {
            shorten(str(k), MAX_DETAIL): shorten(str(v), MAX_DETAIL)
            for k, v in error.metadata.items()
        }
    details = [info]
    if error.field_violations:
        details.append(
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [
                    {
                        "field": shorten(field, MAX_DETAIL),
                        "description": shorten(description, MAX_DETAIL),
                    }
                    for field, description in error.field_violations
                ],
            }
        )
    if isinstance(error.data, list):
        details.extend(
            d
            for d in error.data
            if isinstance(d, dict) and isinstance(d.get("@type"), str)
        )
    return details


@dataclass(frozen=True, slots=True)
class WireDetails:
    """What a peer's error details said."""

    #: ErrorInfo reason, only when its domain is A2A's (or not given).
    reason: str | None = None
    metadata: Mapping[str, str] | None = None
    field_violations: tuple[tuple[str, str], ...] = ()
    #: Details we do not interpret, or a non-list ``data`` value (v0.3 peers).
    data: Any = None


def read_details(details: Any) -> WireDetails:
    """Interpret a detail list (or, for v0.3 peers, any other ``data`` value).

    The reason and metadata come from the first ErrorInfo of the A2A domain; without
    one, metadata comes from the first ErrorInfo (e.g. a gateway's) and there is no
    reason. Other ErrorInfos and unknown details are kept in ``data``.
    """
    if not isinstance(details, list):
        return WireDetails(data=details)
    infos: list[dict[str, Any]] = []
    violations: list[tuple[str, str]] = []
    extra: list[Any] = []
    for detail in details:
        type_url = detail.get("@type") if isinstance(detail, dict) else None
        if not isinstance(type_url, str):
            extra.append(detail)
        elif type_url.endswith(_ERROR_INFO_NAME):
            infos.append(detail)
        elif type_url.endswith(_BAD_REQUEST_NAME):
            violations.extend(_violations(detail))
        else:
            extra.append(detail)
    ours = next((i for i in infos if _is_a2a(i)), None)
    info = ours or (infos[0] if infos else None)
    extra.extend(i for i in infos if i is not info)
    return WireDetails(
        reason=ours["reason"] if ours is not None else None,
        metadata=_string_map(info.get("metadata")) if info is not None else None,
        field_violations=tuple(violations),
        data=extra or None,
    )


def _is_a2a(info: dict[str, Any]) -> bool:
    # A gateway's own ErrorInfo (another domain) does not name an A2A error.
    return isinstance(info.get("reason"), str) and info.get("domain") in (
        None,
        "",
        DOMAIN,
    )


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def _violations(detail: dict[str, Any]) -> list[tuple[str, str]]:
    # ProtoJSON readers accept the proto name as well as the JSON name.
    items = detail.get("fieldViolations", detail.get("field_violations"))
    if not isinstance(items, list):
        return []
    return [
        (str(item.get("field", "")), str(item.get("description", "")))
        for item in items
        if isinstance(item, dict)
    ]


def make_error(
    fallback: type[ProtocolError] | None,
    message: str,
    details: WireDetails,
    *,
    note: str,
) -> ProtocolError:
    """Rebuild the exception a peer reported.

    The class comes from the ErrorInfo reason when it is one of ours, else
    ``fallback`` (chosen by the binding from its code or status), else
    :class:`InternalError`. When the class is a guess, ``note`` (naming the code the
    peer sent) is attached with ``add_note`` so it shows in tracebacks.
    """
    row = from_reason(details.reason) if details.reason is not None else None
    cls = row.cls if row is not None else fallback
    error = (cls or InternalError)(
        message,
        metadata=details.metadata,
        field_violations=details.field_violations,
        data=details.data,
    )
    if cls is None:
        error.add_note(note)
    return error
