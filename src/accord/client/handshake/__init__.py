"""The handshake on the caller's side: data minimisation before anything leaves.

* :class:`CallerPolicy`: a message cut down to what the skill declares, with the
  report of what was withheld (:mod:`.minimisation`).

The value types and rules are sans-IO, in :mod:`accord.protocol.handshake`.
"""

from __future__ import annotations

from .minimisation import (
    CallerPolicy,
    MinimisationRefused,
    declared_needs,
    extension_params,
)

__all__ = [
    "CallerPolicy",
    "MinimisationRefused",
    "declared_needs",
    "extension_params",
]
