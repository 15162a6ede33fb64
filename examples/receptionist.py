"""The Receptionist demo agent, runnable from a checkout.

The agent ships inside the package as :mod:`accord.demo.receptionist` (what
``accord serve`` serves without an argument); this file serves the same agent:
``python examples/receptionist.py [--port 8000] [--db accord.db]`` or
``accord serve examples/receptionist.py``.
"""

from __future__ import annotations

import sys

from accord.demo.receptionist import create_agent, create_app

__all__ = ["create_agent", "create_app"]

if __name__ == "__main__":
    from accord.cli.main import main

    sys.exit(main(["serve", "accord.demo.receptionist:create_app", *sys.argv[1:]]))
