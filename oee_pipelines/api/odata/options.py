"""The system query options of a collection request, parsed and checked, and the SQL they become."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from oee_pipelines.api.odata.errors import ODataError
from oee_pipelines.api.odata.filters import filter_condition
from oee_pipelines.api.odata.model import EntitySet, Property

DEFAULT_PAGE_SIZE = 5_000
MAX_PAGE_SIZE = 50_000
SUPPORTED = {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$format"}
UNSUPPORTED = {
    "$expand",
    "$search",
    "$apply",
    "$compute",
    "$levels",
    "$index",
    "$schemaversion",
    "$skiptoken",
}
_MAX_PAGE = re.compile(r"(?:^|[,;\s])odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class CollectionQuery:
    entity_set: EntitySet
    select: tuple[Property, ...]
    order_by: tuple[tuple[Property, bool], ...]  # (property, descending)
    condition: sql.Composable | None = None
    params: dict[str, Any] = field(default_factory=dict)
    top: int | None = None
    skip: int = 0
    count: bool = False
    explicit_select: bool = False

    def _from_where(self) -> sql.Composable:
        where = sql.SQL("{} = %(org_id)s").format(sql.SQL(self.entity_set.org_column))
        if self.condition is not None:
            where = sql.SQL("{} AND {}").format(where, self.condition)
        return sql.SQL("FROM {} WHERE {}").format(sql.SQL(self.entity_set.from_clause), where)

    def page_statement(self, limit: int) -> sql.Composed:
        columns = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(prop.sql, sql.Identifier(prop.name)) for prop in self.select
        )
        order = sql.SQL(", ").join(
            sql.SQL(_order_term(prop, descending)).format(prop.sql) for prop, descending in self.order_by
        )
        return sql.SQL("SELECT {} {} ORDER BY {} LIMIT {} OFFSET {}").format(
            columns, self._from_where(), order, sql.Literal(limit), sql.Literal(self.skip)
        )

    def count_statement(self) -> sql.Composed:
        return sql.SQL("SELECT count(*) {}").format(self._from_where())


def _order_term(prop: Property, descending: bool) -> str:
    # OData puts nulls first ascending and last descending (PostgreSQL does the opposite). Non-null
    # columns keep the plain form, which an index on them can serve.
    if not prop.nullable:
        return "{} DESC" if descending else "{} ASC"
    return "{} DESC NULLS LAST" if descending else "{} ASC NULLS FIRST"


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise ODataError(400, "DuplicateOption", f"{name} is given {len(values)} times; give it once", name)
    return values[0] if values else None


def _non_negative(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit():
        raise ODataError(400, "InvalidOption", f"{name}: {text!r} is not a whole number >= 0", name)
    return int(text)


def _properties(entity_set: EntitySet, names: Sequence[str], option: str) -> list[Property]:
    found = []
    for name in names:
        prop = entity_set.find_property(name)
        if prop is None:
            raise ODataError(
                400, "InvalidOption",
                f"{option}: {entity_set.name} has no property {name!r} "
                f"(properties: {', '.join(entity_set.property_names)})",
                option,
            )  # fmt: skip
        found.append(prop)
    return found


def _select(entity_set: EntitySet, text: str | None) -> tuple[Property, ...]:
    if text is None or text.strip() in ("", "*"):
        return entity_set.properties
    names = [name.strip() for name in text.split(",") if name.strip()]
    return tuple(dict.fromkeys(_properties(entity_set, names, "$select")))


def _order_by(entity_set: EntitySet, text: str | None) -> tuple[tuple[Property, bool], ...]:
    requested: list[tuple[Property, bool]] = []
    for item in (text or "").split(","):
        words = item.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError(
                400, "InvalidOption", f"$orderby: {item.strip()!r} is not '<property> [asc|desc]'", "$orderby"
            )
        prop = _properties(entity_set, [words[0]], "$orderby")[0]
        requested.append((prop, len(words) == 2 and words[1].lower() == "desc"))
    names = {prop.name for prop, _ in requested}
    # The key always ends the order, so pages never skip or repeat a row.
    defaults = [*entity_set.key] if requested else [*entity_set.default_order, *entity_set.key]
    for name in dict.fromkeys(name for name in defaults if name not in names):
        requested.append((_properties(entity_set, [name], "$orderby")[0], False))
    return tuple(requested)


def _count(text: str | None) -> bool:
    if text is None or text.lower() == "false":
        return False
    if text.lower() == "true":
        return True
    raise ODataError(400, "InvalidOption", f"$count: {text!r} is not true or false", "$count")


def check_options(params: Mapping[str, Sequence[str]]) -> None:
    for name in params:
        if not name.startswith("$"):
            continue  # api_key and other non-OData parameters
        if name in UNSUPPORTED:
            raise ODataError(400, "NotSupported", f"{name} is not supported by this feed", name)
        if name not in SUPPORTED:
            raise ODataError(400, "UnknownOption", f"{name} is not an OData system query option", name)
    output_format = _single(params, "$format")
    if output_format is not None and output_format.split(";")[0].lower() not in ("json", "application/json"):
        raise ODataError(400, "NotSupported", f"$format: {output_format!r}: only json is served", "$format")


def parse_collection_query(entity_set: EntitySet, params: Mapping[str, Sequence[str]]) -> CollectionQuery:
    check_options(params)
    filter_text = _single(params, "$filter")
    condition, filter_params = filter_condition(entity_set, filter_text) if filter_text else (None, {})
    select_text = _single(params, "$select")
    return CollectionQuery(
        entity_set=entity_set,
        select=_select(entity_set, select_text),
        order_by=_order_by(entity_set, _single(params, "$orderby")),
        condition=condition,
        params=filter_params,
        top=_non_negative(_single(params, "$top"), "$top"),
        skip=_non_negative(_single(params, "$skip"), "$skip") or 0,
        count=_count(_single(params, "$count")),
        explicit_select=select_text is not None and select_text.strip() not in ("", "*"),
    )


def page_size(prefer_header: str | None) -> int:
    """The server page size, lowered (never raised past MAX_PAGE_SIZE) by `Prefer: odata.maxpagesize=N`."""
    match = _MAX_PAGE.search(prefer_header or "")
    if match is None or int(match.group(1)) < 1:
        return DEFAULT_PAGE_SIZE
    return min(int(match.group(1)), MAX_PAGE_SIZE)
