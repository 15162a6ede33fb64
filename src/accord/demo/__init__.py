"""Demo agents that ship with Accord, runnable from any install.

* :mod:`accord.demo.receptionist`: the Receptionist, what ``accord serve`` serves when
  given no agent.

This layer sits between the CLI and the server/client layers (import-linter's
``Layers`` contract): a demo uses the public server, store and client APIs like any
application would, and only the CLI imports a demo.
"""

from __future__ import annotations

__all__: list[str] = []
