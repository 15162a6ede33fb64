"""Find the fenced code blocks of the README and of ``docs/``, and classify them.

The conventions (also in ``docs/contributing.md``):

* The first word of a fence's info string says what the block is:

  * ``python``: run as a script (``python FILE``); ``sh`` / ``bash``: run with bash
    (``set -euo pipefail``);
  * ``text``, ``console``, ``mermaid``, ``json``, ``toml``, ``yaml``, ``http``: shown,
    never run (output samples, diagrams, payloads);
  * anything else, or no info string, is an error: say what the block is.

* ``title="NAME"`` after the language (``python title="echo.py"``) also writes the
  block to the file NAME of the page's working folder, so later blocks can use it
  (``accord serve echo.py``). The docs site shows the name above the block.
* A runnable block that cannot run here (it installs from the network, or runs the
  whole test suite) is preceded by ``<!-- docs-test: skip REASON -->`` on the line
  before its fence. REASON is required; the comment shows in the page's source.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RUN",
    "SHOWN",
    "Block",
    "blocks_of",
    "pages",
]

REPO = Path(__file__).resolve().parents[2]

#: Info-string languages the harness runs.
RUN = frozenset({"python", "sh", "bash"})
#: Info-string languages that are shown and never run.
SHOWN = frozenset({"text", "console", "mermaid", "json", "toml", "yaml", "http"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^\s*<!--\s*docs-test:\s*skip\b(?P<reason>.*?)-->\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, what it is, and its text."""

    page: str
    line: int
    lang: str
    title: str | None
    code: str
    skip: str | None

    @property
    def where(self) -> str:
        """``page:line`` of the opening fence, for messages."""
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        """True when the harness runs this block."""
        return self.lang in RUN and self.skip is None


def pages() -> list[Path]:
    """The README and every Markdown page under ``docs/``, sorted."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _info(info: str, where: str) -> tuple[str, str | None]:
    words = shlex.split(info.strip())
    if not words:
        raise ValueError(
            f"{where}: a code block without a language; start its fence with one of "
            f"{sorted(RUN | SHOWN)}"
        )
    lang, *attrs = words
    lang = lang.lower()
    if lang not in RUN | SHOWN:
        raise ValueError(
            f"{where}: unknown code block language {lang!r}; use one of "
            f"{sorted(RUN)} (run) or {sorted(SHOWN)} (shown, never run)"
        )
    title = None
    for attr in attrs:
        key, sep, value = attr.partition("=")
        if sep and key == "title":
            title = value
    return lang, title


def blocks_of(path: Path) -> list[Block]:
    """Every fenced code block of the Markdown file ``path``, in order.

    Raises:
        ValueError: a fence is unterminated, has no or an unknown language, or a
            ``docs-test`` directive is malformed or not followed by a block.
    """
    page = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    pending_skip: tuple[int, str] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _FENCE.match(line)
        if match is None:
            skip = _SKIP.match(line)
            if skip is not None:
                reason = skip["reason"].strip()
                if not reason:
                    raise ValueError(
                        f"{page}:{index + 1}: docs-test: skip needs a reason"
                    )
                pending_skip = (index + 1, reason)
            elif _DIRECTIVE.match(line):
                raise ValueError(
                    f"{page}:{index + 1}: unknown docs-test directive; the only one is "
                    "<!-- docs-test: skip REASON -->"
                )
            elif line.strip() and pending_skip is not None:
                raise ValueError(
                    f"{page}:{pending_skip[0]}: docs-test: skip must be followed by a "
                    "code block on the next line"
                )
            index += 1
            continue
        indent, fence = match["indent"], match["fence"]
        where = f"{page}:{index + 1}"
        lang, title = _info(match["info"], where)
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = lines[index].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(
                fence[0]
            ):
                break
            text = lines[index]
            body.append(text.removeprefix(indent) if text.startswith(indent) else text)
            index += 1
        else:
            raise ValueError(f"{where}: unterminated code block")
        index += 1
        skip_reason = pending_skip[1] if pending_skip is not None else None
        pending_skip = None
        found.append(
            Block(
                page=page,
                line=int(where.rpartition(":")[2]),
                lang=lang,
                title=title,
                code="\n".join(body) + "\n",
                skip=skip_reason,
            )
        )
    if pending_skip is not None:
        raise ValueError(
            f"{page}:{pending_skip[0]}: docs-test: skip is not followed by a block"
        )
    return found
