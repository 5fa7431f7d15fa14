"""Strict decoding of a control API body: JSON bytes to an object to a validated model, the first error as one
`BadRequest` sentence; RFC 7396 merge patches for partial updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from proxy.errors import BadRequest, RequestTooLarge
from proxy.web.limits import BodyLimit
from proxy.web.schemas.common import SHOWN_CHARS, AccountId, Body
from proxy.web.schemas.messages import error_message, shown

T = TypeVar("T", bound=BaseModel)


def decode_object(raw: bytes) -> dict[str, Any]:
    """A control-plane request body as a JSON object; `RequestTooLarge` over its limit, `BadRequest` for anything
    else. (The handlers refuse an over-limit body before reading it whole, with the same limit.)"""
    if len(raw) > BodyLimit.CONTROL:
        raise RequestTooLarge(len(raw), BodyLimit.CONTROL)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(
            f"body is not JSON: {shown(raw)} ({str(error)[:SHOWN_CHARS]}): expected a JSON object"
        ) from None
    if not isinstance(value, dict):
        raise BadRequest(f"body = {shown(value)}: expected a JSON object")
    return value


def validate(model: type[T], value: object) -> T:
    """`value` (decoded JSON) as a `model`; `BadRequest` naming the first error's path, value and expectation."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise BadRequest(error_message(model, error.errors(include_url=False)[0])) from None


class AccountRef(Body):
    """An account id as every body names one; the command line (`account create --id`) checks its ids with it."""

    account_id: AccountId


def account_id(value: str) -> str:
    """`value` when the API accepts it as an account id; `BadRequest` quoting it otherwise."""
    return validate(AccountRef, {"account_id": value}).account_id


def parse(model: type[T], raw: bytes) -> T:
    """A request body (JSON bytes) as a `model`; `BadRequest` otherwise."""
    return validate(model, decode_object(raw))


def merge_patch(stored: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: objects merge key by key, null removes a key (the field returns to its
    default), anything else (lists included) replaces the stored value."""
    merged = dict(stored)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping):
            below = merged.get(key)
            merged[key] = merge_patch(below if isinstance(below, Mapping) else {}, value)
        else:
            merged[key] = value
    return merged
