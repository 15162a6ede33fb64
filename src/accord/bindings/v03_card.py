"""The Agent Card across A2A v0.3 and v1.0 (sans-IO; see :mod:`accord.bindings.v03`).

A v0.3 card names its endpoint with top-level ``url``, ``preferredTransport`` and
``protocolVersion`` (and ``additionalInterfaces``), says ``supportsAuthenticatedExtendedCard``,
and writes security schemes flat (``{"type": "apiKey", "in": ..., "name": ...}``) and
requirements as ``security: [{"scheme": [scopes]}]``; v1.0 lists
``supportedInterfaces`` with a version each and writes schemes as a oneof.

* :func:`hybrid_card`: the card this server serves, v1.0's members plus v0.3's.
* :func:`card_to_v1`: a v0.3 agent's card, read as v1.0 (interfaces at version 0.3).
"""

from __future__ import annotations

from typing import Any

from accord.bindings.v03 import VERSION

__all__ = ["CARD_VERSION", "card_to_v1", "hybrid_card"]


def _copy(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: source[k] for k in keys if k in source}


#: ``protocolVersion`` of a card's v0.3 members (v0.3 cards give three parts).
CARD_VERSION = "0.3.0"
_SCHEME_TYPES = {
    "apiKeySecurityScheme": "apiKey",
    "httpAuthSecurityScheme": "http",
    "oauth2SecurityScheme": "oauth2",
    "openIdConnectSecurityScheme": "openIdConnect",
    "mtlsSecurityScheme": "mutualTLS",
}


def hybrid_card(card: dict[str, Any], jsonrpc_url: str) -> dict[str, Any]:
    """``card`` (v1.0 ProtoJSON) plus the members a v0.3 client reads, for a server
    whose JSON-RPC interface at ``jsonrpc_url`` speaks v0.3 too.

    v0.3 clients find the agent by the card's top-level ``url``, ``protocolVersion``
    and ``preferredTransport``, its auth by ``security`` and each scheme's ``type``;
    v1.0 clients read ``supportedInterfaces`` and the v1.0 members. Each ignores the
    other's members (spec §5.7), so one card serves both (the SDK serves the same).
    """
    out = dict(card)
    out["protocolVersion"] = CARD_VERSION
    out["url"] = jsonrpc_url
    out["preferredTransport"] = "JSONRPC"
    # Every interface speaks v0.3 too: JSON-RPC by method, HTTP+JSON on its /v1/...
    # routes (bindings/v03_rest.py), gRPC as the a2a.v1 service (accord.grpc.v03).
    # v0.3 interface URLs are http(s) URLs; a gRPC `host:port` becomes one (plaintext
    # on a loopback host, TLS elsewhere: how Accord's client reads the bare form).
    out["additionalInterfaces"] = [
        {
            "url": _url_v03(i.get("url", "")),
            "transport": i.get("protocolBinding", ""),
        }
        for i in card.get("supportedInterfaces", [])
        if isinstance(i, dict)
    ]
    if card.get("capabilities", {}).get("extendedAgentCard"):
        out["supportsAuthenticatedExtendedCard"] = True
    schemes = card.get("securitySchemes")
    if isinstance(schemes, dict):
        out["securitySchemes"] = {k: _scheme_v03(v) for k, v in schemes.items()}
    requirements = card.get("securityRequirements")
    if isinstance(requirements, list | tuple):
        out["security"] = [_requirement_v03(r) for r in requirements]
    return out


def _url_v03(url: Any) -> Any:
    """``url`` as an absolute http(s) URL (a bare ``host:port`` gets a scheme)."""
    if not isinstance(url, str) or "://" in url or not url:
        return url
    host = url.rsplit(":", 1)[0].strip("[]")
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    return ("http://" if loopback else "https://") + url


def _scheme_v03(scheme: Any) -> Any:
    """One security scheme with v0.3's flat members beside v1.0's oneof."""
    if not isinstance(scheme, dict) or len(scheme) != 1:
        return scheme
    ((key, body),) = scheme.items()
    kind = _SCHEME_TYPES.get(key)
    if kind is None or not isinstance(body, dict):
        return scheme
    flat: dict[str, Any] = {"type": kind, **_copy(body, ("description",))}
    if kind == "apiKey":
        flat.update({"in": body.get("location", ""), "name": body.get("name", "")})
    elif kind == "http":
        flat.update(_copy(body, ("scheme", "bearerFormat")))
    elif kind == "oauth2":
        flat.update(_copy(body, ("flows", "oauth2MetadataUrl")))
    elif kind == "openIdConnect":
        flat.update(_copy(body, ("openIdConnectUrl",)))
    return {**scheme, **flat}


def _requirement_v03(requirement: Any) -> Any:
    if not isinstance(requirement, dict):
        return requirement
    schemes = requirement.get("schemes", {})
    return {
        name: list(scopes.get("list", [])) if isinstance(scopes, dict) else []
        for name, scopes in schemes.items()
    }


def card_to_v1(card: dict[str, Any]) -> dict[str, Any]:
    """A v0.3 card (no ``supportedInterfaces``) as v1.0 ProtoJSON: its interfaces
    (``url`` + ``preferredTransport``, then ``additionalInterfaces``) with protocol
    version 0.3, the extended-card flag, and its security in v1.0's form. A v1.0 or
    hybrid card is returned as it is."""
    if card.get("supportedInterfaces") or not isinstance(card.get("url"), str):
        return card
    out = dict(card)
    first = {
        "url": card["url"],
        "transport": card.get("preferredTransport") or "JSONRPC",
    }
    others = card.get("additionalInterfaces")
    entries = [first, *(others if isinstance(others, list) else [])]
    seen: set[tuple[Any, Any]] = set()
    interfaces = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key = (entry.get("url"), entry.get("transport"))
        if key in seen:
            continue
        seen.add(key)
        interfaces.append(
            {
                "url": entry.get("url", ""),
                "protocolBinding": entry.get("transport", ""),
                "protocolVersion": VERSION,
            }
        )
    out["supportedInterfaces"] = interfaces
    capabilities = dict(card.get("capabilities") or {})
    if card.get("supportsAuthenticatedExtendedCard"):
        capabilities["extendedAgentCard"] = True
    out["capabilities"] = capabilities
    schemes = card.get("securitySchemes")
    if isinstance(schemes, dict):
        out["securitySchemes"] = {k: _scheme_to_v1(v) for k, v in schemes.items()}
    security = card.get("security")
    if isinstance(security, list) and "securityRequirements" not in card:
        out["securityRequirements"] = [
            {"schemes": {name: {"list": scopes} for name, scopes in r.items()}}
            for r in security
            if isinstance(r, dict)
        ]
    return out


_TYPES_V1 = {v: k for k, v in _SCHEME_TYPES.items()}


def _scheme_to_v1(scheme: Any) -> Any:
    if not isinstance(scheme, dict):
        return scheme
    key = _TYPES_V1.get(scheme.get("type", ""))
    if key is None or key in scheme:
        return {k: v for k, v in scheme.items() if k in _SCHEME_TYPES} or scheme
    body = _copy(scheme, ("description",))
    if key == "apiKeySecurityScheme":
        body.update({"location": scheme.get("in", ""), "name": scheme.get("name", "")})
    elif key == "httpAuthSecurityScheme":
        body.update(_copy(scheme, ("scheme", "bearerFormat")))
    elif key == "oauth2SecurityScheme":
        body.update(_copy(scheme, ("flows", "oauth2MetadataUrl")))
    elif key == "openIdConnectSecurityScheme":
        body.update(_copy(scheme, ("openIdConnectUrl",)))
    return {key: body}
