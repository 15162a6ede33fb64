"""Set-up for a process that runs one ``accord`` client command and exits.

Called by :func:`accord.cli.main.entry` only, never by :func:`~accord.cli.main.main`
(which tests call in-process): both change process-wide state.
"""

from __future__ import annotations

import sys

__all__ = ["UNUSED_OPTIONAL_MODULES", "show_warnings", "skip_unused_imports"]

#: Optional modules that libraries import whenever they are installed, which no
#: client command uses: httpx's own command line (rich, click, pygments: ~0.1 s) and
#: trio (httpcore probes for it: ~0.1 s). See bench/cli_startup.py.
UNUSED_OPTIONAL_MODULES = ("httpx._main", "trio")


def skip_unused_imports(argv: list[str]) -> None:
    """Make the modules of :data:`UNUSED_OPTIONAL_MODULES` unimportable.

    Only for a process that runs one client command and exits (:func:`entry`):
    ``accord serve`` runs the user's agent, which may use them, so it is left alone;
    a module already imported stays as it is.
    """
    if argv[:1] == ["serve"]:
        return  # defensive: entry() does not call it for serve
    for name in UNUSED_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "absent"


def show_warnings() -> None:
    """Print the library's warnings (e.g. a card's missing version) as CLI lines.

    ``accord: warning: …`` on stderr, for a process that runs one client command
    (:func:`entry`); ``accord serve`` leaves logging to uvicorn.
    """
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("accord: warning: %(message)s"))
    library = logging.getLogger("accord")
    library.addHandler(handler)
    library.setLevel(logging.WARNING)
    library.propagate = False
