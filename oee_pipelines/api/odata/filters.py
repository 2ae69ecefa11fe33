"""`$filter` to SQL: the expression is parsed by `odata-query` and its syntax tree translated here.

Only property expressions of the entity set and bound parameters reach the SQL; anything this
translator does not know raises `ODataError` naming it (400), never a server error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser
from psycopg import sql

from oee_pipelines.api.odata.errors import ODataError
from oee_pipelines.api.odata.model import Edm, EntitySet, Property
from oee_pipelines.domain.timestamps import parse_day, parse_instant

_COMPARATORS: dict[type, str] = {
    ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
}  # fmt: skip
_MIRRORED = {
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}
_NUMERIC = {Edm.INT32, Edm.INT64, Edm.DECIMAL}
_DATE_PARTS = {"year": "YEAR", "month": "MONTH", "day": "DAY", "hour": "HOUR", "minute": "MINUTE"}
_STRING_FUNCTIONS: dict[str, str] = {
    "contains": "strpos({0}, {1}) > 0",
    "startswith": "starts_with({0}, {1})",
    "endswith": "right({0}, char_length({1})) = {1}",
}


def parse_filter(text: str) -> ast._Node:
    try:
        return ODataParser().parse(ODataLexer().tokenize(text))
    except ODataException as exc:
        raise ODataError(400, "InvalidFilter", f"$filter: cannot parse {text!r}: {exc}", "$filter") from None
    except Exception as exc:  # the sly parser raises bare errors on some inputs
        raise ODataError(400, "InvalidFilter", f"$filter: cannot parse {text!r} ({exc})", "$filter") from None


def _literal_value(node: ast._Node, prop: Property) -> Any:
    """The Python value of a literal compared with `prop`, checked against the property's type."""
    wrong = ODataError(
        400, "InvalidFilter", f"$filter: {prop.name} ({prop.edm}) cannot be compared with {_describe(node)}",
        "$filter",
    )  # fmt: skip
    try:
        if prop.edm is Edm.STRING and isinstance(node, ast.String):
            return node.py_val
        if prop.edm in _NUMERIC and isinstance(node, ast.Integer | ast.Float):
            return int(node.val) if isinstance(node, ast.Integer) else Decimal(node.val)
        if prop.edm is Edm.BOOLEAN and isinstance(node, ast.Boolean):
            return node.py_val
        if prop.edm is Edm.DATETIME and isinstance(node, ast.DateTime):
            return _instant(node.val)
        if prop.edm is Edm.DATETIME and isinstance(node, ast.Date):
            return parse_instant(node.val)
        if prop.edm is Edm.DATE and isinstance(node, ast.Date):
            return parse_day(node.val)
        if prop.edm is Edm.TIME and isinstance(node, ast.Time):
            return time.fromisoformat(node.val)
    except ValueError:
        raise ODataError(
            400, "InvalidFilter", f"$filter: {_describe(node)} is not a valid value", "$filter"
        ) from None
    raise wrong


def _instant(text: str) -> datetime:
    # Power BI writes seven fractional digits; Python reads at most six.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    return parse_instant(text)


def _describe(node: ast._Node) -> str:
    value = getattr(node, "val", None)
    kind = type(node).__name__.lower()
    return f"{kind} {value!r}" if isinstance(value, str) else kind


class FilterTranslator:
    """Translates one `$filter` tree into a SQL condition with named parameters `f0`, `f1`, ..."""

    def __init__(self, entity_set: EntitySet) -> None:
        self.entity_set = entity_set
        self.params: dict[str, Any] = {}
        self._handlers: dict[type, Callable[[Any], sql.Composable]] = {
            ast.BoolOp: self._bool_op,
            ast.UnaryOp: self._unary_op,
            ast.Compare: self._compare,
            ast.Call: self._call,
            ast.Boolean: self._boolean_property_or_literal,
            ast.Identifier: self._boolean_property_or_literal,
        }

    def translate(self, node: ast._Node) -> sql.Composable:
        handler = self._handlers.get(type(node))
        if handler is None:
            raise _unsupported(node)
        return handler(node)

    def _parameter(self, value: Any) -> sql.Composable:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    def _property(self, node: ast._Node) -> Property:
        if not isinstance(node, ast.Identifier) or node.namespace:
            raise _unsupported(node)
        prop = self.entity_set.find_property(node.name)
        if prop is None:
            raise ODataError(
                400, "InvalidFilter",
                f"$filter: {self.entity_set.name} has no property {node.name!r} "
                f"(properties: {', '.join(self.entity_set.property_names)})",
                "$filter",
            )  # fmt: skip
        return prop

    def _bool_op(self, node: ast.BoolOp) -> sql.Composable:
        joiner = " AND " if isinstance(node.op, ast.And) else " OR "
        left, right = self.translate(node.left), self.translate(node.right)
        return sql.SQL("({}{}{})").format(left, sql.SQL(joiner), right)

    def _unary_op(self, node: ast.UnaryOp) -> sql.Composable:
        if not isinstance(node.op, ast.Not):
            raise _unsupported(node.op)
        return sql.SQL("(NOT {})").format(self.translate(node.operand))

    def _boolean_property_or_literal(self, node: ast._Node) -> sql.Composable:
        if isinstance(node, ast.Boolean):
            return sql.SQL("TRUE" if node.py_val else "FALSE")
        prop = self._property(node)
        if prop.edm is not Edm.BOOLEAN:
            raise ODataError(
                400, "InvalidFilter", f"$filter: {prop.name} is not a boolean condition", "$filter"
            )
        return sql.SQL("({} IS TRUE)").format(prop.sql)

    def _compare(self, node: ast.Compare) -> sql.Composable:
        comparator, left, right = type(node.comparator), node.left, node.right
        if isinstance(node.comparator, ast.In):
            return self._in(left, right)
        if comparator not in _COMPARATORS:
            raise _unsupported(node.comparator)
        if not isinstance(left, ast.Identifier | ast.Call) and isinstance(right, ast.Identifier | ast.Call):
            left, right, comparator = right, left, _MIRRORED[comparator]
        expression, prop = self._operand(left)
        if isinstance(right, ast.Null):
            if comparator not in (ast.Eq, ast.NotEq):
                raise ODataError(
                    400, "InvalidFilter", "$filter: null can only be compared with eq or ne", "$filter"
                )
            return sql.SQL("({} IS {}NULL)").format(
                expression, sql.SQL("" if comparator is ast.Eq else "NOT ")
            )
        if isinstance(right, ast.Identifier):
            other = self._property(right)
            return sql.SQL("({} {} {})").format(expression, sql.SQL(_COMPARATORS[comparator]), other.sql)
        value = self._parameter(_literal_value(right, prop))
        return sql.SQL("({} {} {})").format(expression, sql.SQL(_COMPARATORS[comparator]), value)

    def _operand(self, node: ast._Node) -> tuple[sql.Composable, Property]:
        """A property, or a date-part function of one (`year(snapshot_time)`), and the type it has."""
        if isinstance(node, ast.Call) and node.func.name in _DATE_PARTS and len(node.args) == 1:
            prop = self._property(node.args[0])
            if prop.edm not in (Edm.DATETIME, Edm.DATE):
                raise ODataError(
                    400, "InvalidFilter", f"$filter: {node.func.name}() needs a date or datetime", "$filter"
                )
            source = (
                sql.SQL("({} AT TIME ZONE 'UTC')").format(prop.sql) if prop.edm is Edm.DATETIME else prop.sql
            )
            part = sql.SQL("EXTRACT({} FROM {})::integer").format(
                sql.SQL(_DATE_PARTS[node.func.name]), source
            )
            return part, Property(node.func.name, Edm.INT32, "")
        if isinstance(node, ast.Call) and node.func.name == "date" and len(node.args) == 1:
            prop = self._property(node.args[0])
            if prop.edm is not Edm.DATETIME:
                raise ODataError(400, "InvalidFilter", "$filter: date() needs a datetime property", "$filter")
            return sql.SQL("(({} AT TIME ZONE 'UTC')::date)").format(prop.sql), Property("date", Edm.DATE, "")
        prop = self._property(node)
        return prop.sql, prop

    def _in(self, left: ast._Node, right: ast._Node) -> sql.Composable:
        expression, prop = self._operand(left)
        if not isinstance(right, ast.List) or not right.val:
            raise _unsupported(right)
        values = [self._parameter(_literal_value(item, prop)) for item in right.val]
        return sql.SQL("({} IN ({}))").format(expression, sql.SQL(", ").join(values))

    def _call(self, node: ast.Call) -> sql.Composable:
        template = _STRING_FUNCTIONS.get(node.func.name)
        if template is None or len(node.args) != 2:
            raise _unsupported(node)
        prop = self._property(node.args[0])
        if prop.edm is not Edm.STRING:
            raise ODataError(
                400, "InvalidFilter", f"$filter: {node.func.name}() needs a string property", "$filter"
            )
        value = self._parameter(_literal_value(node.args[1], prop))
        return sql.SQL("(" + template + ")").format(prop.sql, value)


def _unsupported(node: ast._Node) -> ODataError:
    if isinstance(node, ast.Call):
        what = f"function {node.func.name}()"
    elif isinstance(node, ast.BinOp):
        what = f"arithmetic operator {type(node.op).__name__.lower()}"
    elif isinstance(node, ast.CollectionLambda | ast.Lambda):
        what = "lambda operators any/all"
    else:
        what = type(node).__name__
    return ODataError(
        400,
        "NotSupported",
        f"$filter: {what} is not supported (supported: eq ne gt ge lt le in, and or not, contains startswith "
        "endswith, year month day hour minute date)",
        "$filter",
    )


def filter_condition(entity_set: EntitySet, text: str) -> tuple[sql.Composable, dict[str, Any]]:
    translator = FilterTranslator(entity_set)
    condition = translator.translate(parse_filter(text))
    return condition, translator.params
