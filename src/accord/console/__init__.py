"""A web console to look at and talk to A2A agents: ``accord console``.

Theory of operation. :class:`ConsoleApp` is a small ASGI application: a page (plain
HTML, CSS and JavaScript shipped inside the package, no build step) and a JSON/SSE API
that only the page calls. The browser never talks to an agent: the console does, with
an :class:`accord.client.Client` per browser session, so credentials (configured, or
typed once) stay in the console's process, named by an ``HttpOnly``,
``SameSite=Strict`` cookie, never in the browser's storage. Agent URLs are typed by
users, so every request the console makes goes through an
:class:`accord.egress.EgressPolicy` (SSRF guard): by default https to public
addresses and http to loopback.

What the page does:

* connect to an agent by URL: its card, validation results and signature status
  (:mod:`accord.security`: signatures verified against ``trust``, else against the
  agent's own published keys);
* chat with it: status and artifacts stream in live (text, structured data as
  formatted JSON, files to download), multi-turn through input-required, cancel;
* list tasks with filters; a task's page shows its event timeline, push configs and
  audit records (the console's own calls, :mod:`accord.client.audit`; with
  ``accord serve --console --audit`` also the agent's own trail);
* the raw HTTP exchanges of JSON-RPC or HTTP+JSON, credentials redacted.

Every buffer has a bound (:class:`ConsoleLimits`): sessions (number and idle time),
request bodies, live streams (number and lifetime), logs.

Start it with ``accord console [--port 8080] [--agent URL]``, or beside an agent with
``accord serve --console`` (mounted at ``/console``, :func:`with_console`).
"""

from __future__ import annotations

from .app import LOOPBACK, ConsoleApp
from .limits import ConsoleLimits
from .mount import CONSOLE_PATH, with_console

__all__ = ["CONSOLE_PATH", "LOOPBACK", "ConsoleApp", "ConsoleLimits", "with_console"]
