"""The refusals authentication and authorization raise, with their HTTP challenges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import PermissionDeniedError, UnauthenticatedError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["AuthConfigError", "AuthenticationRequired", "InsufficientScope"]


class AuthConfigError(ValueError):
    """The auth configuration does not match the card (raised when the app is built)."""


class AuthenticationRequired(UnauthenticatedError):
    """401: credentials are missing or not valid.

    Attributes:
        challenges: ``WWW-Authenticate`` values, one per scheme the caller may use.
    """

    def __init__(self, message: str, *, challenges: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.challenges = tuple(challenges)


class InsufficientScope(PermissionDeniedError):
    """403: the credentials are valid but do not grant a required scope.

    Attributes:
        challenges: ``WWW-Authenticate`` values (RFC 6750 ``insufficient_scope``).
    """

    def __init__(self, message: str, *, challenges: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.challenges = tuple(challenges)
