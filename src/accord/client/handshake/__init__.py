"""The handshake on the caller's side: minimise, negotiate, then start the task.

* :class:`CallerPolicy`: a message cut down to what the skill declares, with the
  report of what was withheld (:mod:`.minimisation`);
* :func:`propose`, :func:`accept_counter`, :func:`under_agreement`: negotiate a task
  before any work (:mod:`.negotiation`);
* :func:`check_guarantees`: declared guarantees against the observed figures, with
  the breaches (:mod:`.guarantees`).

The value types and rules are sans-IO, in :mod:`accord.protocol.handshake`.
"""

from __future__ import annotations

from .guarantees import GuaranteeReport, check_guarantees
from .minimisation import (
    CallerPolicy,
    MinimisationRefused,
    declared_needs,
    extension_params,
)
from .negotiation import (
    NegotiationUnsupported,
    accept_counter,
    propose,
    send_negotiation,
    under_agreement,
)

__all__ = [
    "CallerPolicy",
    "GuaranteeReport",
    "MinimisationRefused",
    "NegotiationUnsupported",
    "accept_counter",
    "check_guarantees",
    "declared_needs",
    "extension_params",
    "propose",
    "send_negotiation",
    "under_agreement",
]
