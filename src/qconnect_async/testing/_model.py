"""botocore's qconnect model, read by the fake: its IDs and ARNs, which operation a request is,
what input breaks.

`match` routes a request to its operation (and percent-decoded URI labels) from the model's
request URIs, the most literal template first, as the service's router. `validate` lists every
constraint of the model that input breaks (required members, lengths, ranges, enums, patterns,
unions), in the service's "Value ... at '...' failed to satisfy constraint: ..." form; moto
parses input into the model's shapes but enforces none of this. One more rule is the service's
documentation, not its pattern: URLs cannot contain an ARN, so a URI label must be an ID.
No moto here: the controls and the remote side read the model too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.exceptions import UnknownRegionError
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

# -- IDs and ARNs ---------------------------------------------------------------------------------
#: The `Uuid` pattern of the model: what a URI label holds where the model allows an ARN too.
UUID_PATTERN = "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"
# The service's own shapes: `Uuid` and the ARN branch of `UuidOrArn` in botocore's model.
UUID_RE = re.compile(UUID_PATTERN)
ACCOUNT_RE = re.compile(r"[0-9]{12}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
KB_ARN_RE = re.compile(
    r"arn:(?P<partition>[a-z-]+):wisdom:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    rf"knowledge-base/(?P<id>{UUID_PATTERN})"
)


def new_id() -> str:
    """A fresh lower-case UUID, the form every qconnect ID takes."""
    return str(uuid.uuid4())


@cache
def partition(region: str) -> str:
    """The partition of a Region (aws, aws-cn, aws-us-gov, ...), from botocore's endpoints."""
    try:
        return str(_session().get_partition_for_region(region))
    except UnknownRegionError:
        return "aws"


def knowledge_base_arn(region: str, account_id: str, knowledge_base_id: str) -> str:
    """The ARN of a knowledge base, in its Region's partition."""
    where = f"{partition(region)}:wisdom:{region}:{account_id}"
    return f"arn:{where}:knowledge-base/{knowledge_base_id}"


def split_knowledge_base_ref(ref: str) -> tuple[str, str | None, str | None] | None:
    """(id, region, account) of a KB given as an ID or an ARN; None if it is neither."""
    if UUID_RE.fullmatch(ref):
        return ref, None, None
    match = KB_ARN_RE.fullmatch(ref)
    if match is None:
        return None
    return match["id"], match["region"], match["account"]


def knowledge_base_id_of(ref: str) -> str:
    """The ID inside a KB reference, or the reference itself when it is not one."""
    parts = split_knowledge_base_ref(ref)
    return ref if parts is None else parts[0]


_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def model() -> ServiceModel:
    """botocore's qconnect model, loaded once."""
    return _session().get_service_model("qconnect")


@cache
def enum(shape: str) -> frozenset[str]:
    """The values of an enum shape of the model."""
    return frozenset(model().shape_for(shape).enum)


# -- routing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """An operation and its URI labels, percent-decoded."""

    operation: str
    labels: dict[str, str]


@dataclass(frozen=True)
class _Rule:
    operation: str
    method: str
    pattern: re.Pattern[str]
    literal_size: int


def _compile(uri: str) -> re.Pattern[str]:
    path = uri.split("?", 1)[0]
    parts, last = [], 0
    for label in _LABEL.finditer(path):
        parts.append(re.escape(path[last : label.start()]))
        parts.append(f"(?P<{label[1]}>{'.+' if label[2] else '[^/]+'})")
        last = label.end()
    parts.append(re.escape(path[last:]))
    return re.compile("".join(parts))


@cache
def rules() -> tuple[_Rule, ...]:
    """Every operation's route, the most literal template first."""
    service = model()
    found = []
    for name in service.operation_names:
        http = service.operation_model(name).http
        uri = http["requestUri"]
        literal = len(_LABEL.sub("", uri.split("?", 1)[0]))
        found.append(_Rule(name, http["method"], _compile(uri), literal))
    return tuple(sorted(found, key=lambda rule: -rule.literal_size))


def match(method: str, raw_path: str) -> Route | None:
    """The operation a request is for; `raw_path` is still percent-encoded."""
    for rule in rules():
        if rule.method != method:
            continue
        found = rule.pattern.fullmatch(raw_path) or rule.pattern.fullmatch(raw_path.rstrip("/"))
        if found is not None:
            return Route(rule.operation, {k: unquote(v) for k, v in found.groupdict().items()})
    return None


# -- validation -----------------------------------------------------------------------------------
def validate(shape: StructureShape | None, params: Mapping[str, Any]) -> str | None:
    """The service's message for every constraint `params` breaks; None when it breaks none."""
    if shape is None:
        return None
    errors: list[str] = []
    _check_members(shape, params, "", errors)
    return _message(errors)


def check_value(shape_name: str, value: Any, path: str) -> str | None:
    """The service's message for a value of the named shape; None when it satisfies it."""
    errors: list[str] = []
    _check(model().shape_for(shape_name), value, path, errors)
    return _message(errors)


def _message(errors: list[str]) -> str | None:
    if not errors:
        return None
    plural = "s" if len(errors) > 1 else ""
    return f"{len(errors)} validation error{plural} detected: " + "; ".join(errors)


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
        if member_value is None:
            continue
        if member.serialization.get("location") == "uri" and str(member_value).startswith("arn:"):
            constraint = f"Member must satisfy regular expression pattern: {UUID_PATTERN}"
            _fail(
                errors, member_value, prefix + name, f"{constraint} (URLs cannot contain the ARN)"
            )
            continue
        _check(member, member_value, prefix + name, errors)


#: The kinds of shape the fake checks: the Python type of their values, the word for it.
_KINDS: dict[str, tuple[type, str]] = {
    "structure": (Mapping, "a structure"),
    "string": (str, "a string"),
    "integer": (int, "an integer"),
    "long": (int, "an integer"),
    "boolean": (bool, "a boolean"),
    "list": (list, "a list"),
    "map": (Mapping, "a map"),
}


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    kind, meta = shape.type_name, shape.metadata
    if kind not in _KINDS:
        return  # timestamps, blobs, numbers with a fraction: nothing to check
    python_type, what = _KINDS[kind]
    typed = isinstance(value, python_type) and not (python_type is int and type(value) is bool)
    if not typed:
        _fail(errors, value, path, f"Member must be {what}")
        return
    if kind in ("string", "list", "map"):
        _check_size(len(value), meta, value, path, "length", errors)
    elif python_type is int:
        _check_size(value, meta, value, path, "value", errors)
    if isinstance(shape, StructureShape) and not shape.is_document_type:
        _check_members(shape, value, path + ".", errors)
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", errors)
            _check(shape.value, item, f"{path}.{key}", errors)
    elif kind == "string":
        choices, pattern = meta.get("enum"), meta.get("pattern")
        if choices and value not in choices:
            constraint = f"Member must satisfy enum value set: [{', '.join(choices)}]"
            _fail(errors, value, path, constraint)
        if pattern and _pattern(pattern).fullmatch(value) is None:
            _fail(errors, value, path, f"Member must satisfy regular expression pattern: {pattern}")


def _check_size(
    size: int, meta: Mapping[str, Any], value: Any, path: str, what: str, errors: list[str]
) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        _fail(errors, value, path, f"Member must have {what} greater than or equal to {low}")
    if high is not None and size > high:
        _fail(errors, value, path, f"Member must have {what} less than or equal to {high}")
