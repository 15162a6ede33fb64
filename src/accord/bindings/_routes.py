"""HTTP+JSON routing and query strings, derived from the operations table (spec §11).

Routes. Every :class:`~accord.protocol.operations.RestRoute` template is compiled into
segment matchers: a literal (``tasks``, ``message:send``), a variable naming a request
field by its JSON name (``{id}``), or a variable with a custom-verb suffix
(``{id}:cancel``, AIP-136). Variables match exactly one non-empty path segment
(``{id=*}`` in the proto). Every route also exists behind a leading ``/{tenant}``
segment (spec §5.3, §8.3.2).

Matching works on the *percent-encoded* path, split on ``/`` before decoding, so that
ids and tenants may contain ``/``, ``:`` or spaces when the client encodes them (our
client always does; spec §11.3: tenants with ``/`` are otherwise inexpressible).
A verb suffix is matched literally (an encoded ``%3A`` belongs to the id); each
variable is then percent-decoded (RFC 3986 §2.1, UTF-8).

Precedence, when several templates match a path (spec §11.3): routes without a
tenant segment come first, then among those of the same kind the more literal
template (``/tasks/{id}:subscribe`` before ``/tasks/{id}``). The first candidate whose
verb matches wins; so ``GET /tasks/tasks`` is GetTask of task ``tasks`` and
``POST /tasks/message:send`` is SendMessage for tenant ``tasks``.

Query strings (spec §11.5, §11.4): names are the camelCase JSON names (the proto
snake_case names are accepted too); values are decoded as in
``application/x-www-form-urlencoded``, i.e. RFC 3986 percent-decoding plus ``+`` for a
space, because that is what common HTTP clients (httpx, hence the official SDK) send.
Only scalar fields travel in a query: strings raw, booleans ``true``/``false``,
int32 in decimal, enums by name (or number), timestamps in RFC 3339. An empty value
leaves a non-string field unset.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from accord import types as t
from accord._quote import shorten
from accord.errors import InvalidParamsError
from accord.protocol.operations import OPERATIONS, Operation

__all__ = [
    "CLIENT_ROUTES",
    "QueryField",
    "Route",
    "candidates",
    "coerce",
    "encode_segment",
    "parse_query",
    "query_fields",
]

_VARIABLE = re.compile(r"\{(?P<name>[A-Za-z_]\w*)\}(?P<suffix>.*)\Z")
_INT = re.compile(r"[+-]?\d+\Z")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class _Segment:
    #: Literal text, or ``None`` for a variable.
    literal: str | None
    #: JSON name of the variable's request field.
    name: str = ""
    #: Python attribute name of that field.
    attr: str = ""
    #: Custom-verb suffix after the variable, e.g. ``:cancel``.
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    """One compiled route of an operation."""

    operation: Operation
    verb: str
    template: str
    #: True: the request travels in the JSON body; False: in the query string.
    body: bool
    segments: tuple[_Segment, ...]
    #: ``(JSON name, attribute name)`` of each path variable.
    path_fields: tuple[tuple[str, str], ...]

    @classmethod
    def compile(
        cls, operation: Operation, verb: str, template: str, body: bool
    ) -> Route:
        """Compile ``template`` (e.g. ``/tasks/{id}:cancel``) for ``operation``."""
        attrs = _attribute_names(operation.request_type)
        segments: list[_Segment] = []
        fields: list[tuple[str, str]] = []
        for text in template.strip("/").split("/"):
            match = _VARIABLE.match(text)
            if match is None:
                segments.append(_Segment(text))
            else:
                name = match["name"]
                segments.append(_Segment(None, name, attrs[name], match["suffix"]))
                fields.append((name, attrs[name]))
        return cls(operation, verb, template, body, tuple(segments), tuple(fields))

    @property
    def specificity(self) -> int:
        """How much literal text the template has; more literal routes match first."""
        return sum(len(s.literal or s.suffix) for s in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """Return the decoded path variables if ``parts`` (encoded) fit this route."""
        values: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            literal = segment.literal
            if literal is not None:
                if part != literal and ("%" not in part or unquote(part) != literal):
                    return None
                continue
            suffix = segment.suffix
            if len(part) <= len(suffix) or not part.endswith(suffix):
                return None
            value = part[: len(part) - len(suffix)]
            values[segment.name] = unquote(value) if "%" in value else value
        return values

    def render(self, params: Any) -> str:
        """Build this route's encoded path from a request value (client side).

        Raises:
            InvalidParamsError: a path field is empty, which no URL can express.
        """
        out: list[str] = []
        for segment in self.segments:
            if segment.literal is not None:
                out.append(segment.literal)
                continue
            value = getattr(params, segment.attr)
            if not value:
                raise InvalidParamsError(
                    f"{self.operation.name}: `{segment.name}` must not be empty",
                    field_violations=[(segment.name, "must not be empty")],
                )
            out.append(encode_segment(value) + segment.suffix)
        return "/" + "/".join(out)


def _attribute_names(request_type: type) -> dict[str, str]:
    # msgspec Structs list their attribute and JSON (encode) names side by side.
    names: tuple[str, ...] = request_type.__struct_fields__  # type: ignore[attr-defined]
    encoded: tuple[str, ...] = request_type.__struct_encode_fields__  # type: ignore[attr-defined]
    return dict(zip(encoded, names, strict=True))


def encode_segment(value: str) -> str:
    """Percent-encode one path segment: everything but RFC 3986 unreserved characters.

    ``.`` and ``..`` are encoded too, so no URL normaliser removes them as dot-segments
    (RFC 3986 §5.2.4).
    """
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _compile_all() -> tuple[list[Route], dict[str, Route]]:
    routes: list[Route] = []
    first: dict[str, Route] = {}
    for operation in OPERATIONS:
        for rest in operation.rest:
            route = Route.compile(operation, rest.verb, rest.path, rest.body)
            routes.append(route)
            first.setdefault(operation.name, route)
    # Stable sort: table order among equals.
    routes.sort(key=lambda r: -r.specificity)
    return routes, first


_ROUTES, CLIENT_ROUTES = _compile_all()

# Routes bucketed by segment count and leading literal ("" when the template starts
# with a variable), so a lookup only tries templates that can match.
_INDEX: dict[tuple[int, str], list[Route]] = {}
for _route in _ROUTES:
    _key = (len(_route.segments), _route.segments[0].literal or "")
    _INDEX.setdefault(_key, []).append(_route)
del _route, _key


def _routes_for(parts: list[str]) -> list[Route]:
    head = unquote(parts[0]) if "%" in parts[0] else parts[0]
    count = len(parts)
    return _INDEX.get((count, head), []) + _INDEX.get((count, ""), [])


def candidates(path: str) -> typing.Iterator[tuple[Route, dict[str, str], str]]:
    """Yield ``(route, path variables, tenant)`` for every route matching ``path``.

    ``path`` is percent-encoded and relative to the interface base. Candidates come in
    precedence order: without tenant first, then behind a ``/{tenant}`` segment.
    """
    parts = path[1:].split("/") if path.startswith("/") else path.split("/")
    for route in _routes_for(parts):
        values = route.match(parts)
        if values is not None:
            yield route, values, ""
    if len(parts) < 2 or not parts[0]:
        return
    tenant_parts = parts[1:]
    for route in _routes_for(tenant_parts):
        values = route.match(tenant_parts)
        if values is not None:
            yield route, values, unquote(parts[0])


# --- query strings ---------------------------------------------------------------


class _Kind(enum.Enum):
    STRING = "string"
    BOOL = "bool"
    INT = "int32"
    ENUM = "enum"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True, slots=True)
class QueryField:
    """A request field that can travel as a query parameter."""

    json_name: str
    kind: _Kind
    enum_type: type[enum.Enum] | None = None


@cache
def query_fields(request_type: type) -> dict[str, QueryField]:
    """Map query names (JSON and proto names) to the scalar fields of ``request_type``.

    ``tenant`` is excluded: REST carries it only in the path (spec §11.4, §8.3.2).
    """
    hints = typing.get_type_hints(request_type, include_extras=True)
    out: dict[str, QueryField] = {}
    for json_name, attr in _attribute_names(request_type).items():
        if attr == "tenant":
            continue
        field = _query_field(json_name, hints[attr])
        if field is not None:
            out[json_name] = out[attr] = field
    return out


def _query_field(json_name: str, hint: Any) -> QueryField | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) != 1:
            return None
        hint = members[0]
    if hint == t.Timestamp:
        return QueryField(json_name, _Kind.TIMESTAMP)
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if hint is bool:
        return QueryField(json_name, _Kind.BOOL)
    if hint is int:
        return QueryField(json_name, _Kind.INT)
    if hint is str:
        return QueryField(json_name, _Kind.STRING)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return QueryField(json_name, _Kind.ENUM, hint)
    return None  # messages, maps and lists cannot travel in a query (spec §11.5)


def parse_query(query: str) -> typing.Iterator[tuple[str, str]]:
    """Yield decoded ``(name, value)`` pairs of a raw query string, in order."""
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            yield unquote_plus(name), unquote_plus(value)


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def coerce(field: QueryField, name: str, raw: str) -> Any:
    """Turn a query value into the JSON value of ``field``; ``None`` means unset.

    Raises:
        InvalidParamsError: naming the parameter, when the value does not fit.
    """
    kind = field.kind
    if kind is _Kind.STRING:
        return raw
    if not raw:
        return None
    if kind is _Kind.BOOL:
        lowered = raw.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        problem = "expected true or false"
    elif kind is _Kind.INT:
        # The length check keeps int() clear of its 4300-digit limit (a ValueError).
        if (
            len(raw) <= 12
            and _INT.match(raw)
            and _INT32_MIN <= (number := int(raw)) <= _INT32_MAX
        ):
            return number
        problem = "expected a decimal int32"
    elif kind is _Kind.ENUM:
        assert field.enum_type is not None
        members = list(field.enum_type)
        for member in members:
            if raw == member.value:
                return raw
        if (
            raw.isascii()
            and raw.isdigit()
            and len(raw) <= 4
            and int(raw) < len(members)
        ):
            # Members are declared in proto number order (ProtoJSON accepts numbers).
            return members[int(raw)].value
        problem = f"expected a {field.enum_type.__name__} name or number"
    else:
        try:
            t.parse_timestamp(raw)
        except ValueError:
            problem = "expected an RFC 3339 timestamp"
        else:
            return raw
    got = f"{problem}, got {shorten(raw)!r}"
    raise InvalidParamsError(
        f"Invalid query parameter `{name}`: {got}",
        field_violations=[(field.json_name, got)],
    )
