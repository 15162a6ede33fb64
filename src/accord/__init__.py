"""Accord: the A2A (Agent2Agent) protocol v1.0 for Python."""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__"]
