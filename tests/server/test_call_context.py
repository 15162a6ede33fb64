"""CallContext's scopes: the shared anonymous scope is only used when it is the one."""

from __future__ import annotations

import pytest

from accord.server.context import CallContext
from accord.stores import Scope


@pytest.mark.parametrize(
    ("owner", "tenant"), [("", ""), ("alice", ""), ("", "acme"), ("alice", "acme")]
)
def test_owner_scope_is_the_tenant_and_the_caller(owner: str, tenant: str) -> None:
    scope = CallContext(owner=owner).owner_scope(tenant)
    assert scope == Scope(tenant=tenant, owner=owner)
    assert (scope.tenant, scope.owner) == (tenant, owner)


def test_the_anonymous_scope_is_shared_and_still_frozen() -> None:
    first = CallContext().owner_scope("")
    assert first is CallContext(version="0.3").owner_scope("")
    with pytest.raises(AttributeError):  # FrozenInstanceError
        first.owner = "mallory"  # type: ignore[misc]
    assert CallContext().scope("") == Scope(tenant="", owner="")
