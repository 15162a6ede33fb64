"""Security building blocks without I/O: JOSE (keys, signatures, tokens) and, on top,
Agent Card signing. Needs the ``security`` extra (``cryptography``)."""

from __future__ import annotations

__all__: list[str] = []
