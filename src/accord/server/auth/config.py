"""One auth configuration, checked against the card: :class:`AuthConfig` and the
:class:`Authenticator` that enforces the card's security requirements.

Theory of operation. The agent declares ``security_schemes`` and
``security_requirements`` once; they are published in the card and are what the
server enforces. :class:`AuthConfig` only adds *how to check* each scheme: a
:class:`~accord.server.auth.Verifier` per scheme name. When the app is built,
:class:`Authenticator` fails fast (:class:`AuthConfigError`) if a required scheme has
no verifier, a verifier names a scheme the card does not declare, or a verifier
cannot serve its scheme.

Requirement semantics (OpenAPI, spec §4.5): the requirements are alternatives; the
schemes inside one requirement are needed together; the scopes listed for a scheme
must all be granted. An empty requirement (``SecurityRequirement()``) among them makes
authentication optional: a caller that presents no credential is anonymous, while one
that presents a credential must present a valid one. Per-skill requirements
(``AgentSkill.securityRequirements``) are published but not enforced: an A2A request
does not name the skill it is for.

Outcomes: an alternative whose credentials are all valid but lack a listed scope →
403 :class:`InsufficientScope` (``insufficient_scope``); otherwise, no alternative
satisfied → 401 :class:`AuthenticationRequired` with one ``WWW-Authenticate``
challenge per acceptable scheme (bearer schemes add ``error="invalid_token"`` when a
token was rejected, RFC 6750 §3.1). Why a credential failed is logged at debug level, without
the secret, and never sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accord.errors import ProtocolError
from accord.protocol import BY_METHOD

from .access import AccessPolicy, TaskAccessHook
from .errors import AuthConfigError, AuthenticationRequired, InsufficientScope
from .principal import Principal
from .verifier import Credential, CredentialRejected, RequestInfo, Verifier, scheme_kind

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from accord.types import SecurityRequirement, SecurityScheme

__all__ = ["AuthConfig", "Authenticator"]

logger = logging.getLogger(__name__)

_BEARER_KINDS = frozenset({"oauth2", "openIdConnect"})


@dataclass(frozen=True)
class AuthConfig:
    """How the server checks the schemes the card declares.

    Attributes:
        verifiers: scheme name (as in the card's ``securitySchemes``) → verifier.
        task_access: optional hook widening or narrowing which tasks a caller sees
            (see :mod:`accord.server.auth.access`); default: own tasks only.
        operation_scopes: operation name → scopes the caller must also hold for it,
            e.g. ``{"CancelTask": ["tasks:cancel"]}`` (403 when missing).
        realm: the ``realm`` of ``WWW-Authenticate`` challenges (default: the agent's
            name).
    """

    verifiers: Mapping[str, Verifier] = field(default_factory=dict)
    task_access: TaskAccessHook | None = None
    operation_scopes: Mapping[str, Collection[str]] = field(default_factory=dict)
    realm: str | None = None


def _header_safe(text: str) -> str:
    """Printable ASCII only: a realm goes into an HTTP header (no CR/LF injection)."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hint(name: str, scheme: SecurityScheme) -> str:
    kind = scheme_kind(scheme)
    if scheme.api_key_security_scheme is not None:
        key = scheme.api_key_security_scheme
        return f"an API key in the {key.location} {key.name!r}"
    if scheme.http_auth_security_scheme is not None:
        return f"an 'Authorization: {scheme.http_auth_security_scheme.scheme}' header"
    if kind in _BEARER_KINDS:
        return "an OAuth 2.0 bearer token ('Authorization: Bearer')"
    return "a TLS client certificate"


class Authenticator:
    """Enforces the card's requirements with the configured verifiers."""

    def __init__(
        self,
        schemes: Mapping[str, SecurityScheme],
        requirements: Collection[SecurityRequirement],
        config: AuthConfig,
        *,
        realm: str,
        skill_requirements: Collection[SecurityRequirement] = (),
    ) -> None:
        self.schemes = dict(schemes)
        self.requirements = requirements  # (and .required: see its setter)
        self.verifiers = dict(config.verifiers)
        self.realm = _header_safe(config.realm or realm)
        self._validate(skill_requirements, config)
        self.policy = AccessPolicy(
            task_access=config.task_access,
            operation_scopes=config.operation_scopes,
            challenges=self._scope_challenges,
        )
        #: Query parameters that carry API keys: removed before the binding reads the
        #: query string, so a key never collides with a request field.
        self.credential_query_params = frozenset(
            s.api_key_security_scheme.name
            for n, s in self.schemes.items()
            if n in self.verifiers
            and s.api_key_security_scheme is not None
            and s.api_key_security_scheme.location == "query"
        )

    # --- start-up checks ---------------------------------------------------------------

    def _validate(
        self, skill_requirements: Collection[SecurityRequirement], config: AuthConfig
    ) -> None:
        for where, reqs in (
            ("securityRequirements", self.requirements),
            ("a skill's securityRequirements", skill_requirements),
        ):
            for req in reqs:
                for name in req.schemes:
                    if name not in self.schemes:
                        raise AuthConfigError(
                            f"{where} names the scheme {name!r}, which the agent's "
                            f"security_schemes do not declare (declared: "
                            f"{', '.join(sorted(self.schemes)) or 'none'})"
                        )
        for req in self.requirements:
            for name in req.schemes:
                if name not in self.verifiers:
                    raise AuthConfigError(
                        f"the card requires the security scheme {name!r}, but no "
                        f"verifier is configured for it: pass auth={{{name!r}: "
                        "<a Verifier>}} to A2AApp"
                    )
        for name, verifier in self.verifiers.items():
            scheme = self.schemes.get(name)
            if scheme is None:
                raise AuthConfigError(
                    f"a verifier is configured for {name!r}, which the agent's "
                    f"security_schemes do not declare (declared: "
                    f"{', '.join(sorted(self.schemes)) or 'none'})"
                )
            if not isinstance(verifier, Verifier):
                raise AuthConfigError(
                    f"the verifier for {name!r} ({type(verifier).__name__}) does not "
                    "implement check_scheme() and verify()"
                )
            try:
                verifier.check_scheme(name, scheme)
            except AuthConfigError:
                raise
            except ValueError as exc:
                raise AuthConfigError(f"security scheme {name!r}: {exc}") from None
        for operation in config.operation_scopes:
            if operation not in BY_METHOD:
                raise AuthConfigError(
                    f"operation_scopes names {operation!r}, which is not an A2A "
                    "operation (e.g. 'SendMessage', 'GetTask')"
                )

    @property
    def requirements(self) -> tuple[SecurityRequirement, ...]:
        """The card's security requirements (alternatives: any one satisfied will do)."""
        return self._requirements

    @requirements.setter
    def requirements(self, value: Collection[SecurityRequirement]) -> None:
        self._requirements = tuple(value)
        #: True when the card requires authentication for ordinary operations. Read
        #: on every request, so computed here, with the requirements it follows.
        self.required = bool(self._requirements)

    # --- challenges --------------------------------------------------------------------

    def _challenge(
        self, name: str, *, error: str | None = None, scopes: Collection[str] = ()
    ) -> str:
        scheme = self.schemes[name]
        realm = f"realm={_quote(self.realm)}"
        if scheme.api_key_security_scheme is not None:
            key = scheme.api_key_security_scheme
            return (
                f"ApiKey {realm}, location={_quote(key.location)}, "
                f"name={_quote(key.name)}"
            )
        if scheme.http_auth_security_scheme is not None:
            token = scheme.http_auth_security_scheme.scheme or "Bearer"
        elif scheme_kind(scheme) in _BEARER_KINDS:
            token = "Bearer"
        else:
            return f"MutualTLS {realm}"
        value = f"{token[:1].upper()}{token[1:].lower()} {realm}"
        if token.lower() == "bearer" and error is not None:
            value += f", error={_quote(error)}"
            if scopes:
                value += f", scope={_quote(' '.join(scopes))}"
        return value

    def _challenges(
        self, names: Collection[str], rejected: Collection[str] = ()
    ) -> tuple[str, ...]:
        out: list[str] = []
        for name in names:
            value = self._challenge(
                name, error="invalid_token" if name in rejected else None
            )
            if value not in out:
                out.append(value)
        return tuple(out)

    def _scope_challenges(
        self, principal: Principal | None, scopes: Collection[str]
    ) -> tuple[str, ...]:
        if principal is None:
            names = [n for r in self.requirements for n in r.schemes] or list(
                self.verifiers
            )
            return self._challenges(names)
        if principal.scheme in self.schemes:
            return (
                self._challenge(
                    principal.scheme, error="insufficient_scope", scopes=scopes
                ),
            )
        return ()

    # --- authentication ----------------------------------------------------------------

    def _extract(self, name: str, request: RequestInfo) -> Credential | None:
        scheme = self.schemes[name]
        value: str | None
        key = scheme.api_key_security_scheme
        if key is not None:
            if key.location == "header":
                value = request.header(key.name)
            elif key.location == "query":
                value = request.query_param(key.name)
            else:
                value = request.cookies.get(key.name)
        elif scheme.mtls_security_scheme is not None:
            chain = (request.tls or {}).get("client_cert_chain") or ()
            return Credential(name, scheme, "", request) if chain else None
        else:
            http = scheme.http_auth_security_scheme
            wanted = (http.scheme if http is not None else "") or "Bearer"
            header = request.header("authorization")
            if header is None:
                return None
            token, _, rest = header.strip().partition(" ")
            value = rest.strip() if token.lower() == wanted.lower() else None
        if not value:
            return None
        return Credential(name, scheme, value, request)

    async def _verify(self, credential: Credential) -> Principal | None:
        """The principal, or None when the credential is rejected (logged)."""
        name = credential.scheme_name
        try:
            principal = await self.verifiers[name].verify(credential)
        except CredentialRejected as rejected:
            logger.debug("credential for scheme %r rejected: %s", name, rejected.reason)
            return None
        except ProtocolError:
            raise  # e.g. UnavailableError: cannot decide now
        except Exception:
            logger.exception("the verifier for scheme %r failed; rejecting", name)
            return None
        if not isinstance(principal, Principal):
            logger.error(
                "the verifier for scheme %r returned %r, not a Principal; rejecting",
                name,
                principal,
            )
            return None
        if principal.scheme != name:
            principal = Principal(
                id=principal.id,
                scheme=name,
                tenants=principal.tenants,
                scopes=principal.scopes,
                claims=principal.claims,
            )
        return principal

    async def authenticate(self, request: RequestInfo) -> Principal | None:
        """Check the card's requirements; the caller, or None when anonymous.

        Raises:
            AuthenticationRequired: 401.
            InsufficientScope: 403.
        """
        if not self.requirements:
            return None
        return await self._satisfy(request, self.requirements)

    async def authenticate_any(self, request: RequestInfo) -> Principal:
        """Authenticate for GetExtendedAgentCard (spec §13.3: always authenticated).

        The card's non-empty requirements apply; when it has none, any one declared
        scheme with a verifier will do.
        """
        reqs = tuple(r for r in self.requirements if r.schemes)
        if not reqs:
            from accord.types import SecurityRequirement, StringList

            reqs = tuple(
                SecurityRequirement(schemes={name: StringList()})
                for name in self.schemes
                if name in self.verifiers
            )
        if not reqs:
            raise AuthenticationRequired(
                "The extended agent card requires authentication, and this agent "
                "declares no security scheme to authenticate with"
            )
        principal = await self._satisfy(request, reqs)
        assert principal is not None
        return principal

    async def _satisfy(
        self, request: RequestInfo, requirements: Collection[SecurityRequirement]
    ) -> Principal | None:
        names = list(dict.fromkeys(n for r in requirements for n in r.schemes))
        presented = {n: self._extract(n, request) for n in names}
        verified: dict[str, Principal | None] = {}
        insufficient: list[tuple[str, tuple[str, ...]]] = []
        for req in requirements:
            if not req.schemes:
                continue
            found: list[tuple[Principal, tuple[str, ...]]] = []
            for name, scopes in req.schemes.items():
                credential = presented[name]
                if credential is None:
                    break
                if name not in verified:
                    verified[name] = await self._verify(credential)
                principal = verified[name]
                if principal is None:
                    break
                found.append((principal, tuple(scopes.list)))
            else:
                missing = [
                    (p.scheme, tuple(s for s in scopes if s not in p.scopes))
                    for p, scopes in found
                ]
                missing = [(n, s) for n, s in missing if s]
                if not missing:
                    return _combine([p for p, _ in found])
                insufficient.extend(missing)
        rejected = [n for n, p in verified.items() if p is None]
        anonymous_ok = any(not r.schemes for r in requirements)
        if anonymous_ok and not any(c is not None for c in presented.values()):
            return None
        if insufficient:
            # Some alternative's credentials are valid: the caller is authenticated,
            # just not with enough scope (RFC 6750 §3.1 insufficient_scope).
            scheme_name, lacking = insufficient[0]
            raise InsufficientScope(
                "The credentials do not grant the scopes this agent requires",
                challenges=(
                    self._challenge(
                        scheme_name, error="insufficient_scope", scopes=lacking
                    ),
                ),
            )
        hints = " or ".join(
            dict.fromkeys(
                " and ".join(_hint(n, self.schemes[n]) for n in r.schemes)
                for r in requirements
                if r.schemes
            )
        )
        message = (
            "The credentials sent are not valid"
            if rejected
            else f"This agent requires authentication: send {hints}"
        )
        raise AuthenticationRequired(
            message, challenges=self._challenges(names, rejected)
        )

    async def aclose(self) -> None:
        """Close the verifiers that hold resources (HTTP clients)."""
        for verifier in self.verifiers.values():
            close = getattr(verifier, "aclose", None)
            if close is not None:
                await close()


def _combine(principals: list[Principal]) -> Principal:
    """One principal for a requirement satisfied by several schemes together."""
    first = principals[0]
    if len(principals) == 1:
        return first
    tenants: frozenset[str] | None = None
    scopes: frozenset[str] = frozenset()
    for p in principals:
        if p.tenants is not None:
            tenants = p.tenants if tenants is None else tenants & p.tenants
        scopes |= p.scopes
    return Principal(
        id=first.id,
        scheme=first.scheme,
        tenants=tenants,
        scopes=scopes,
        claims={p.scheme: dict(p.claims) for p in principals},
    )
