"""The help texts of ``accord``: exit codes and environment once, examples per command.

``EPILOG`` ends ``accord --help`` (exit codes, environment variables, examples);
each subcommand's ``--help`` ends with its own examples only (``EXAMPLES``) and a
pointer back to ``accord --help``.
"""

from __future__ import annotations

__all__ = ["EPILOG", "EXAMPLES"]

EPILOG = """\
exit codes:
  0   success (for send / task subscribe: the task did not end badly)
  1   the task ended FAILED, REJECTED or CANCELED, or the agent answered an error
  2   usage error (bad arguments, TARGET not found, a missing extra)
  3   cannot connect to the agent (refused, DNS, TLS, timeout), or the
      connection ended before the task did (e.g. the server stopped)
  4   authentication or authorization refused (HTTP 401/403)
  5   not found (unknown task, no agent card at the URL)
  6   card diff: a breaking change between the two cards (1: changes, none
      breaking)
  70  unexpected error: a bug in accord (ACCORD_DEBUG=1 shows the traceback)
  130 interrupted (Ctrl-C)
  141 stdout closed by its reader (e.g. `| head`); nothing more is printed

environment (read when the option is absent; values are never printed):
  ACCORD_TOKEN          bearer token (same as --token)
  ACCORD_API_KEY        API key, placed where the agent card says (same as --api-key)
  ACCORD_CLIENT_ID      OAuth 2.0 client id (same as --client-id)
  ACCORD_CLIENT_SECRET  OAuth 2.0 client secret (same as --client-secret)
  ACCORD_DEBUG          set to 1 to see the traceback of an unexpected error

examples:
  accord serve                                  # the demo Receptionist on :8000
  accord card http://127.0.0.1:8000
  accord send http://127.0.0.1:8000 "Summary of call-1001"
  accord send http://127.0.0.1:8000 "Escalate call-1003" --stream
  accord task list http://127.0.0.1:8000 --status input-required
  accord console --agent http://127.0.0.1:8000   # a web page to look and talk

`accord COMMAND --help` shows each command's options and examples.
"""


def _examples(*lines: str) -> str:
    """A subcommand's epilog: its examples (exit codes live in ``accord --help``)."""
    shown = "".join(f"  {line}\n" for line in lines)
    return f"examples:\n{shown}\nexit codes and environment variables: accord --help\n"


_AGENT = "http://127.0.0.1:8000"
#: Each subcommand's epilog, shown once under its own ``--help``.
EXAMPLES = {
    "SERVE": _examples(
        "accord serve                           # the demo Receptionist",
        "accord serve my_agent.py --port 9000   # your agent (file.py[:OBJ])",
    ),
    "CARD": _examples(
        f"accord card {_AGENT}",
        f"accord card {_AGENT}/.well-known/agent-card.json --json",
    ),
    "SIGN": _examples(
        "accord keys generate --out signing",
        "accord card sign card.json --key signing.pem --out signed.json",
    ),
    "VERIFY": _examples(
        f"accord card verify {_AGENT} --trust signing.jwks.json",
    ),
    "DIFF": _examples(
        f"accord card diff pinned-card.json {_AGENT}",
        "accord card diff old.json new.json --json",
    ),
    "PIN": _examples(
        f"accord card pin {_AGENT}",
        f"accord card pin {_AGENT} --json",
    ),
    "SEND": _examples(
        f'accord send {_AGENT} "Summary of call-1001"',
        f'accord send {_AGENT} "Escalate call-1003" --stream',
        f"accord send {_AGENT} - < message.txt       # the text from stdin",
        f"accord send {_AGENT} @message.txt          # the text from a file",
        f"accord send {_AGENT} --data @order.json    # a JSON data part from a file",
        f'accord send {_AGENT} "the reason" --task-id ID   # answer INPUT_REQUIRED',
    ),
    "TASK_GET": _examples(f"accord task get {_AGENT} ID --history 10"),
    "TASK_LIST": _examples(
        f"accord task list {_AGENT}",
        f"accord task list {_AGENT} --status input-required --json",
    ),
    "TASK_CANCEL": _examples(f"accord task cancel {_AGENT} ID"),
    "TASK_SUBSCRIBE": _examples(f"accord task subscribe {_AGENT} ID"),
}
