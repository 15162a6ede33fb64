"""The ``accord`` command line: serve agents, fetch cards, send messages, manage tasks.

Entry point: :func:`accord.cli.main.main` (``main(argv) -> exit code``); the console
script ``accord`` and ``python -m accord.cli`` call it.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
