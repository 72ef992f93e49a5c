"""Check parsed input against the constraints of botocore's qconnect model.

moto parses a request into the model's shapes but does not enforce required members, lengths,
ranges, enums or patterns; the real service answers those with a 400 ValidationException, and so
must we (never a 500). Messages follow the service's "1 validation error detected: ..." form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from ._backend import ValidationException


def validate_input(shape: StructureShape | None, params: Mapping[str, Any]) -> None:
    """Raise ValidationException listing every constraint `params` breaks."""
    if shape is None:
        return
    errors: list[str] = []
    _check_members(shape, params, "", errors)
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise ValidationException(
            f"{len(errors)} validation error{plural} detected: " + "; ".join(errors)
        )


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    # botocore strips the outer ^...$ of the service's patterns; the service anchors them.
    return re.compile(pattern)


def _fail(errors: list[str], value: Any, path: str, constraint: str) -> None:
    shown = "null" if value is None else f"'{value}'"
    errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")


def _check_members(
    shape: StructureShape, value: Mapping[str, Any], prefix: str, errors: list[str]
) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            _fail(errors, None, prefix + name, "Member must not be null")
    if shape.metadata.get("union") and sum(value.get(n) is not None for n in shape.members) != 1:
        errors.append(f"Union at '{prefix.rstrip('.') or shape.name}' must have exactly one member")
    for name, member in shape.members.items():
        member_value = value.get(name)
        if member_value is not None:
            _check(member, member_value, prefix + name, errors)


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, Mapping):
            _fail(errors, value, path, "Member must be a structure")
        elif isinstance(shape, StructureShape) and not shape.is_document_type:
            _check_members(shape, value, path + ".", errors)
    elif kind == "string":
        if not isinstance(value, str):
            _fail(errors, value, path, "Member must be a string")
            return
        _check_size(len(value), meta, value, path, "length", errors)
        enum = meta.get("enum")
        if enum and value not in enum:
            _fail(errors, value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern and _pattern(pattern).fullmatch(value) is None:
            _fail(errors, value, path, f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(errors, value, path, "Member must be an integer")
            return
        _check_size(value, meta, value, path, "value", errors)
    elif kind == "boolean" and not isinstance(value, bool):
        _fail(errors, value, path, "Member must be a boolean")
    elif kind == "list" and isinstance(shape, ListShape):
        if not isinstance(value, list):
            _fail(errors, value, path, "Member must be a list")
            return
        _check_size(len(value), meta, value, path, "length", errors)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif kind == "map" and isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            _fail(errors, value, path, "Member must be a map")
            return
        _check_size(len(value), meta, value, path, "length", errors)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", errors)
            _check(shape.value, item, f"{path}.{key}", errors)


def _check_size(
    size: int, meta: Mapping[str, Any], value: Any, path: str, what: str, errors: list[str]
) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        _fail(errors, value, path, f"Member must have {what} greater than or equal to {low}")
    if high is not None and size > high:
        _fail(errors, value, path, f"Member must have {what} less than or equal to {high}")
