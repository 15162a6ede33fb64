"""The presence rules of the Agent Card messages, for the signature payload (spec §8.4.1).

:data:`CARD_SCHEMA` lists, for every message reachable from ``AgentCard``
(``lf.a2a.v1``), each field's JSON name, how it is represented, and whether it is
``REQUIRED`` (``google.api.field_behavior``) or has explicit presence (proto3
``optional``, sub-messages, ``Struct``). ``tests/security`` compares it with the proto
descriptor of the official SDK, so a drift of ``a2a.proto`` fails a test.

:func:`normalize` applies the rules to one JSON object; :mod:`.cards` explains which
way round (``fill``) signer and verifier use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["CARD_SCHEMA", "FieldRule", "Kind", "normalize"]


class Kind(Enum):
    """How a field is represented and when it is emitted."""

    #: Implicit-presence scalar: emitted unless ``""``/``false``/``0``.
    SCALAR = "scalar"
    #: ``optional`` scalar: emitted iff set, even to the default.
    OPTIONAL = "optional"
    #: Sub-message (or oneof member): emitted iff set, even when ``{}``.
    MESSAGE = "message"
    #: ``google.protobuf.Struct``: free JSON object, emitted iff set, kept verbatim.
    STRUCT = "struct"
    #: ``repeated`` scalar: emitted unless empty.
    LIST = "list"
    #: ``repeated`` message: emitted unless empty.
    MESSAGE_LIST = "message_list"
    #: ``map<string, scalar>``: emitted unless empty.
    MAP = "map"
    #: ``map<string, message>``: emitted unless empty.
    MESSAGE_MAP = "message_map"


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One field of :data:`CARD_SCHEMA`: its kind, REQUIRED-ness and message type."""

    kind: Kind
    required: bool = False
    message: str | None = None


def _req(kind: Kind, message: str | None = None) -> FieldRule:
    return FieldRule(kind, True, message)


_S = FieldRule(Kind.SCALAR)
_OPT = FieldRule(Kind.OPTIONAL)
_LIST = FieldRule(Kind.LIST)
_STRUCT = FieldRule(Kind.STRUCT)


def _msg(message: str) -> FieldRule:
    return FieldRule(Kind.MESSAGE, False, message)


def _msgs(message: str) -> FieldRule:
    return FieldRule(Kind.MESSAGE_LIST, False, message)


#: Every message reachable from ``AgentCard`` (``lf.a2a.v1``), JSON name → rule, from
#: the ``field_behavior = REQUIRED`` and ``optional`` markings of ``a2a.proto``.
CARD_SCHEMA: Mapping[str, Mapping[str, FieldRule]] = {
    "AgentCard": {
        "name": _req(Kind.SCALAR),
        "description": _req(Kind.SCALAR),
        "supportedInterfaces": _req(Kind.MESSAGE_LIST, "AgentInterface"),
        "provider": _msg("AgentProvider"),
        "version": _req(Kind.SCALAR),
        "documentationUrl": _OPT,
        "capabilities": _req(Kind.MESSAGE, "AgentCapabilities"),
        "securitySchemes": FieldRule(Kind.MESSAGE_MAP, False, "SecurityScheme"),
        "securityRequirements": _msgs("SecurityRequirement"),
        "defaultInputModes": _req(Kind.LIST),
        "defaultOutputModes": _req(Kind.LIST),
        "skills": _req(Kind.MESSAGE_LIST, "AgentSkill"),
        "signatures": _msgs("AgentCardSignature"),
        "iconUrl": _OPT,
    },
    "AgentInterface": {
        "url": _req(Kind.SCALAR),
        "protocolBinding": _req(Kind.SCALAR),
        "tenant": _S,
        "protocolVersion": _req(Kind.SCALAR),
    },
    "AgentProvider": {"url": _req(Kind.SCALAR), "organization": _req(Kind.SCALAR)},
    "AgentCapabilities": {
        "streaming": _OPT,
        "pushNotifications": _OPT,
        "extensions": _msgs("AgentExtension"),
        "extendedAgentCard": _OPT,
    },
    "AgentExtension": {
        "uri": _S,
        "description": _S,
        "required": _S,
        "params": _STRUCT,
    },
    "AgentSkill": {
        "id": _req(Kind.SCALAR),
        "name": _req(Kind.SCALAR),
        "description": _req(Kind.SCALAR),
        "tags": _req(Kind.LIST),
        "examples": _LIST,
        "inputModes": _LIST,
        "outputModes": _LIST,
        "securityRequirements": _msgs("SecurityRequirement"),
    },
    "AgentCardSignature": {
        "protected": _req(Kind.SCALAR),
        "signature": _req(Kind.SCALAR),
        "header": _STRUCT,
    },
    "SecurityRequirement": {
        "schemes": FieldRule(Kind.MESSAGE_MAP, False, "StringList")
    },
    "StringList": {"list": _LIST},
    "SecurityScheme": {
        "apiKeySecurityScheme": _msg("APIKeySecurityScheme"),
        "httpAuthSecurityScheme": _msg("HTTPAuthSecurityScheme"),
        "oauth2SecurityScheme": _msg("OAuth2SecurityScheme"),
        "openIdConnectSecurityScheme": _msg("OpenIdConnectSecurityScheme"),
        "mtlsSecurityScheme": _msg("MutualTlsSecurityScheme"),
    },
    "APIKeySecurityScheme": {
        "description": _S,
        "location": _req(Kind.SCALAR),
        "name": _req(Kind.SCALAR),
    },
    "HTTPAuthSecurityScheme": {
        "description": _S,
        "scheme": _req(Kind.SCALAR),
        "bearerFormat": _S,
    },
    "OAuth2SecurityScheme": {
        "description": _S,
        "flows": _req(Kind.MESSAGE, "OAuthFlows"),
        "oauth2MetadataUrl": _S,
    },
    "OAuthFlows": {
        "authorizationCode": _msg("AuthorizationCodeOAuthFlow"),
        "clientCredentials": _msg("ClientCredentialsOAuthFlow"),
        "implicit": _msg("ImplicitOAuthFlow"),
        "password": _msg("PasswordOAuthFlow"),
        "deviceCode": _msg("DeviceCodeOAuthFlow"),
    },
    "AuthorizationCodeOAuthFlow": {
        "authorizationUrl": _req(Kind.SCALAR),
        "tokenUrl": _req(Kind.SCALAR),
        "refreshUrl": _S,
        "scopes": _req(Kind.MAP),
        "pkceRequired": _S,
    },
    "ClientCredentialsOAuthFlow": {
        "tokenUrl": _req(Kind.SCALAR),
        "refreshUrl": _S,
        "scopes": _req(Kind.MAP),
    },
    "ImplicitOAuthFlow": {
        "authorizationUrl": _S,
        "refreshUrl": _S,
        "scopes": FieldRule(Kind.MAP),
    },
    "PasswordOAuthFlow": {
        "tokenUrl": _S,
        "refreshUrl": _S,
        "scopes": FieldRule(Kind.MAP),
    },
    "DeviceCodeOAuthFlow": {
        "deviceAuthorizationUrl": _req(Kind.SCALAR),
        "tokenUrl": _req(Kind.SCALAR),
        "refreshUrl": _S,
        "scopes": _req(Kind.MAP),
    },
    "OpenIdConnectSecurityScheme": {
        "description": _S,
        "openIdConnectUrl": _req(Kind.SCALAR),
    },
    "MutualTlsSecurityScheme": {"description": _S},
}


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


#: Per message: original proto (snake_case) name → JSON name, for names that differ.
_PROTO_NAMES: Mapping[str, Mapping[str, str]] = {
    message: {_snake(n): n for n in rules if _snake(n) != n}
    for message, rules in CARD_SCHEMA.items()
}

#: The value a REQUIRED field takes when absent (all REQUIRED scalars are strings).
_EMPTY: Mapping[Kind, Any] = {
    Kind.SCALAR: "",
    Kind.LIST: [],
    Kind.MESSAGE_LIST: [],
    Kind.MAP: {},
    Kind.MESSAGE_MAP: {},
}


def _is_default(value: Any) -> bool:
    """True for the proto3 default of an implicit-presence field."""
    if value is False or value in ("", [], (), {}):
        return True
    return type(value) in (int, float) and value == 0


def normalize(data: Mapping[str, Any], message: str, *, fill: bool) -> dict[str, Any]:
    """Apply the presence rules of ``message`` to one JSON object (see module doc)."""
    rules = CARD_SCHEMA[message]
    aliases = _PROTO_NAMES[message]
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = aliases.get(key, key)
        rule = rules.get(name)
        if name in out:
            raise ValueError(f"{message} has the member {name!r} twice")
        if rule is None:
            out[key] = value  # unknown to this verifier: kept as received
            continue
        if value is None:
            continue  # ProtoJSON: null means "not set" for a non-Value field
        kind = rule.kind
        if kind is Kind.MESSAGE and isinstance(value, Mapping) and rule.message:
            value = normalize(value, rule.message, fill=fill)
        elif (
            kind is Kind.MESSAGE_LIST
            and isinstance(value, list | tuple)
            and rule.message
        ):
            sub = rule.message
            value = [
                normalize(v, sub, fill=fill) if isinstance(v, Mapping) else v
                for v in value
            ]
        elif kind is Kind.MESSAGE_MAP and isinstance(value, Mapping) and rule.message:
            sub = rule.message
            value = {
                k: normalize(v, sub, fill=fill) if isinstance(v, Mapping) else v
                for k, v in value.items()
            }
        presence = kind in (Kind.OPTIONAL, Kind.MESSAGE, Kind.STRUCT)
        if rule.required or presence or not _is_default(value):
            out[name] = value
    if fill:
        for name, rule in rules.items():
            if rule.required and name not in out:
                if rule.kind is Kind.MESSAGE and rule.message:
                    out[name] = normalize({}, rule.message, fill=True)
                else:
                    out[name] = _EMPTY[rule.kind]
    return out
