"""The ``accord`` subcommands; each module has ``run(args) -> int``.

Modules import their heavy dependencies (client, server, uvicorn) inside ``run``, so
that parsing arguments and ``accord --help`` stay fast.
"""

from __future__ import annotations

__all__: list[str] = []
