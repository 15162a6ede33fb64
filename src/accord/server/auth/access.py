"""Authorization: which tenant a caller may address, and which tasks it may see.

Theory of operation. Every operation is authorized after authentication and before
the handler touches the store (spec §13.1: checks happen before any lookup that could
reveal existence). :class:`AccessPolicy` decides, from the caller and the request's
tenant alone (never from a task):

1. the tenant: a principal bound to tenants may address only those; any other tenant
   is refused with 403 PermissionDenied (decided without a lookup, so it reveals
   nothing about the tenant's tasks);
2. the operation's scopes (``operation_scopes``): missing ones are a 403
   (``insufficient_scope``), or a 401 for an anonymous caller;
3. the task boundary: the :class:`~accord.stores.base.Scope` every store read of the
   call uses. By default it is the request's tenant and the caller's own tasks
   (``owner = principal.id``; ``""`` when anonymous). A ``task_access`` hook may
   widen (or narrow) it on purpose, e.g. a tenant administrator sees every task of the
   tenant (``Scope(tenant, owner=None)``). The hook must stay within the request's
   tenant; a hook that raises, or returns anything else, denies (fail closed).

Tasks outside the boundary behave exactly like missing ones (TaskNotFoundError).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.errors import PermissionDeniedError, ProtocolError
from accord.stores.base import Scope

from .errors import AuthenticationRequired, InsufficientScope

if TYPE_CHECKING:
    from .principal import Principal

__all__ = ["AccessPolicy", "AccessRequest", "TaskAccessHook"]

logger = logging.getLogger(__name__)

#: Operations that never read tasks: the task boundary does not apply.
_NO_TASKS = frozenset({"GetExtendedAgentCard"})


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What a ``task_access`` hook decides on.

    Attributes:
        principal: the caller (None when the agent allows anonymous calls).
        tenant: the tenant the request addresses (``""`` for none).
        operation: the operation name, e.g. ``"ListTasks"``.
        default: the boundary Accord would use: this tenant, the caller's own tasks.
    """

    principal: Principal | None
    tenant: str
    operation: str
    default: Scope


#: ``hook(request) -> Scope`` (or an awaitable of one). Return ``request.default`` to
#: keep the default, ``Scope(request.tenant, owner=None)`` to see every task of the
#: tenant. Raise to deny.
TaskAccessHook = Callable[[AccessRequest], Scope | Awaitable[Scope]]


def _tenant_label(tenant: str) -> str:
    return f"tenant {tenant!r}" if tenant else "the interface without a tenant"


class AccessPolicy:
    """Authorizes each call and computes its task boundary (see the module docstring)."""

    def __init__(
        self,
        *,
        task_access: TaskAccessHook | None = None,
        operation_scopes: Mapping[str, Collection[str]] | None = None,
        challenges: Callable[[Principal | None, Collection[str]], tuple[str, ...]]
        | None = None,
    ) -> None:
        self.task_access = task_access
        self.operation_scopes = {
            name: tuple(scopes) for name, scopes in (operation_scopes or {}).items()
        }
        self._challenges = challenges

    def _challenge(
        self, principal: Principal | None, scopes: Collection[str]
    ) -> tuple[str, ...]:
        return () if self._challenges is None else self._challenges(principal, scopes)

    async def authorize(
        self, operation: str, tenant: str, principal: Principal | None, owner: str
    ) -> Scope:
        """The boundary of one call: :meth:`check`, then the default boundary or the
        ``task_access`` hook's (:meth:`decide`).

        Raises:
            PermissionDeniedError: tenant not allowed, scope missing, or hook denied.
            AuthenticationRequired: an anonymous caller asks for a scoped operation.
        """
        if self.check(operation, tenant, principal):
            return await self.decide(operation, tenant, principal, owner)
        return Scope(tenant=tenant, owner=owner)

    def check(self, operation: str, tenant: str, principal: Principal | None) -> bool:
        """Rules 1 and 2 (tenant, scopes); whether the boundary is the hook's to
        decide (:meth:`decide`). False: it is the default, ``Scope(tenant, owner)``.

        Raises:
            PermissionDeniedError: the tenant is not allowed, or a scope is missing.
            AuthenticationRequired: an anonymous caller asks for a scoped operation.
        """
        if principal is not None and not principal.allows_tenant(tenant):
            raise PermissionDeniedError(
                f"The credentials are not valid for {_tenant_label(tenant)}"
            )
        needed = self.operation_scopes.get(operation, ())
        if needed:
            if principal is None:
                raise AuthenticationRequired(
                    f"{operation} requires authentication",
                    challenges=self._challenge(None, needed),
                )
            if not principal.has_scopes(needed):
                raise InsufficientScope(
                    f"The credentials do not grant the scope {operation} requires "
                    f"({' '.join(needed)})",
                    challenges=self._challenge(principal, needed),
                )
        return self.task_access is not None and operation not in _NO_TASKS

    async def decide(
        self, operation: str, tenant: str, principal: Principal | None, owner: str
    ) -> Scope:
        """Rule 3 when :meth:`check` says the ``task_access`` hook decides: its
        boundary, or PermissionDeniedError (fail closed)."""
        hook = self.task_access
        assert hook is not None
        request = AccessRequest(
            principal, tenant, operation, Scope(tenant=tenant, owner=owner)
        )
        try:
            result = hook(request)
            if inspect.isawaitable(result):
                result = await result
        except ProtocolError:
            raise
        except Exception:
            logger.exception("the task_access hook raised; access denied")
            raise PermissionDeniedError(
                "Access denied by the server's policy"
            ) from None
        if not isinstance(result, Scope) or result.tenant != tenant:
            logger.error(
                "the task_access hook returned %r for %s on %s; access denied (it "
                "must return a Scope for the request's tenant)",
                result,
                operation,
                _tenant_label(tenant),
            )
            raise PermissionDeniedError("Access denied by the server's policy")
        return result
