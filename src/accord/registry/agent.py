"""The registry as an A2A agent: a ``search`` skill, so agents discover over A2A.

:func:`registry_agent` builds an :class:`~accord.server.Agent` over a
:class:`~accord.registry.store.RegistryStore`; :class:`~accord.registry.api.RegistryApp`
serves it beside its HTTP API (its card at the registry's
``/.well-known/agent-card.json``, its JSON-RPC and HTTP+JSON endpoints under
``/a2a``).

A message to it is a search of the public registry:

* a text part is the free text (``"schedule a callback"``);
* or a data part is an ARD query object, ``{"text": ..., "filter": {...}}``,
  optionally with ``pageSize`` and ``pageToken``.

The agent replies with a message (no task: a search is answered at once, spec
§3.1.1): a text line per agent found, and a data part holding the ARD search
response (:func:`.shapes.search_response`). A query the registry cannot read is
answered with a message saying what to fix, and nothing else happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.server import Agent
from accord.types import AgentSkill

from . import shapes
from .entries import SearchPage

if TYPE_CHECKING:
    from accord.server import TaskContext

    from .store import RegistryStore

__all__ = ["SEARCH_SKILL", "registry_agent"]

#: The registry agent's one skill.
SEARCH_SKILL = AgentSkill(
    id="search",
    name="Search agents",
    description=(
        "Find agents in this registry: send what you need in words, or an ARD query "
        'object {"text": ..., "filter": {"skill": [...], "tag": [...], ...}} as a '
        "data part; the answer lists the best matches, with an ARD search response "
        "as data."
    ),
    tags=("registry", "discovery", "search"),
    examples=("find an agent that can schedule a callback",),
    input_modes=("text/plain", "application/json"),
    output_modes=("text/plain", "application/json"),
)


def _request(ctx: TaskContext) -> dict[str, Any]:
    """The ARD search request a message stands for."""
    for value in ctx.data:
        if isinstance(value, dict):
            request = {k: value[k] for k in ("pageSize", "pageToken") if k in value}
            query = {k: v for k, v in value.items() if k not in request}
            return {"query": query, **request}
    return {"query": {"text": ctx.text}}


def registry_agent(
    store: RegistryStore, *, name: str = "Accord registry", base_url: str = ""
) -> Agent:
    """An agent answering searches of ``store``'s public registry.

    ``base_url`` is the registry's URL, used in the results (``source``, and the
    card URL of published agents).
    """
    agent = Agent(
        name=name,
        description="An agent registry: finds agents by what they can do.",
        skills=(SEARCH_SKILL,),
        streaming=False,
    )

    @agent.executor
    async def search(ctx: TaskContext) -> None:
        try:
            query = shapes.parse_search(_request(ctx))
        except shapes.BadRequest as exc:
            await ctx.reply(f"I cannot read that search: {exc}")
            return
        page = (
            await store.search("", query) if query is not None else SearchPage((), None)
        )
        answer = shapes.search_response(page, base_url=base_url)
        lines = [
            f"{hit.entry.card.name} ({hit.score}): {hit.entry.source_url or hit.entry.identifier}"
            for hit in page.hits
        ]
        await ctx.reply("\n".join(lines) or "No agent matches.", data=answer)

    return agent
