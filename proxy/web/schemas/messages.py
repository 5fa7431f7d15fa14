"""A pydantic error as one sentence: `path = value: expected …`, the value cut to `SHOWN_CHARS`."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from proxy.web.schemas.common import SHOWN_CHARS


def shown(value: object) -> str:
    """`value` as Python writes it, cut to SHOWN_CHARS (text and bytes are cut before repr: a body may be MiBs)."""
    if isinstance(value, str | bytes):
        text = repr(value[:SHOWN_CHARS])
        if len(value) > SHOWN_CHARS:
            unit = "characters" if isinstance(value, str) else "bytes"
            return f"{text[:SHOWN_CHARS]}… ({len(value)} {unit})"
    else:
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}…"


def _unwrap(kind: Any) -> Any:
    """The type under Annotated[…] and `X | None`."""
    while True:
        origin = typing.get_origin(kind)
        if origin is Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        else:
            return kind


class _Place:
    """Where an error's loc points: its written path, the type found there, its field and its parent type."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.path = ""
        self.kind: Any = model
        self.parent: Any = None
        self.field: FieldInfo | None = None

    def step(self, item: str | int) -> None:
        kind, self.parent, self.field = _unwrap(self.kind), self.kind, None
        origin = typing.get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel) and item in kind.model_fields:
            self.field = kind.model_fields[str(item)]
            self.path, self.kind = f"{self.path}.{item}", self.field.annotation
        elif origin is dict:
            self.path, self.kind = f"{self.path}[{item!r}]", typing.get_args(kind)[1]
        elif origin is list and isinstance(item, int):
            self.path, self.kind = f"{self.path}[{item}]", typing.get_args(kind)[0]
        else:
            self.path, self.kind = f"{self.path}.{item}" if isinstance(item, str) else f"{self.path}[{item}]", Any

    @property
    def name(self) -> str:
        return self.path.lstrip(".") or "body"


def _fields_of(kind: Any) -> str:
    kind = _unwrap(kind)
    names = list(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else []
    return ", ".join(names) or "none"


_TYPES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "float_type": "a number",
    "int_type": "an integer",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "finite_number": "a finite number",
}
_LIMITS: dict[str, Callable[[dict[str, Any]], str]] = {
    "string_too_long": lambda ctx: f"at most {ctx['max_length']} characters",
    "string_too_short": lambda ctx: f"at least {ctx['min_length']} character{'s' if ctx['min_length'] != 1 else ''}",
    "string_pattern_mismatch": lambda ctx: f"text matching {ctx['pattern']}",
    "too_long": lambda ctx: f"at most {ctx['max_length']} {_items(ctx)}",
    "too_short": lambda ctx: f"at least {ctx['min_length']} {_items(ctx)}",
    "greater_than": lambda ctx: f"a number > {ctx['gt']:g}",
    "greater_than_equal": lambda ctx: f"a number >= {ctx['ge']:g}",
    "less_than": lambda ctx: f"a number < {ctx['lt']:g}",
    "less_than_equal": lambda ctx: f"a number <= {ctx['le']:g}",
}


def _items(ctx: dict[str, Any]) -> str:
    return "entries" if ctx.get("field_type") == "Dictionary" else "items"


def _expected(error: ErrorDetails, place: _Place) -> str:
    """The "expected …" part of one pydantic error."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        options = typing.get_args(_unwrap(place.kind))
        return f"expected one of {', '.join(map(repr, options))}" if options else f"expected {ctx['expected']}"
    if kind == "extra_forbidden":
        return f"unknown field, expected one of {_fields_of(place.parent)}"
    if kind in _TYPES:
        return f"expected {_TYPES[kind]}"
    if kind in _LIMITS:
        return f"expected {_LIMITS[kind](ctx)}"
    message = error["msg"]  # a pydantic error the tables above do not know
    return f"expected {message[:1].lower()}{message[1:]}"


def error_message(model: type[BaseModel], error: ErrorDetails) -> str:
    place, loc = _Place(model), list(error["loc"])
    # A key's loc is (…, key, "[key]"), its input the key; a value stored under a key named "[key]" is not one.
    is_key = len(loc) >= 2 and loc[-1] == "[key]" and error["input"] == loc[-2]
    for item in loc[:-2] if is_key else loc:
        place.step(item)
    if error["type"] == "missing":
        what = place.field.description if place.field is not None and place.field.description else "a value"
        return f"{place.name} is missing: expected {what}"
    if is_key:
        return f"{place.name} has the key {shown(error['input'])}: {_expected(error, place)}"
    return f"{place.name} = {shown(error['input'])}: {_expected(error, place)}"
