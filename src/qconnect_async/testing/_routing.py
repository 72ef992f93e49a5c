"""Which qconnect operation a request is, from botocore's model (method and request URI).

The server needs the operation and the knowledge base of a request before moto sees it, to count
it and to decide its faults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote

import botocore.session

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


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
def _rules() -> tuple[_Rule, ...]:
    model = botocore.session.get_session().get_service_model("qconnect")
    rules = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"]
        literal = len(_LABEL.sub("", uri.split("?", 1)[0]))
        rules.append(_Rule(name, http["method"], _compile(uri), literal))
    # The most literal template wins, as in the service's router.
    return tuple(sorted(rules, key=lambda rule: -rule.literal_size))


def operation_names() -> frozenset[str]:
    """Every operation of the qconnect model."""
    return frozenset(rule.operation for rule in _rules())


def match(method: str, raw_path: str) -> Route | None:
    """The operation a request is for; `raw_path` is still percent-encoded."""
    for rule in _rules():
        if rule.method != method:
            continue
        found = rule.pattern.fullmatch(raw_path) or rule.pattern.fullmatch(raw_path.rstrip("/"))
        if found is not None:
            return Route(rule.operation, {k: unquote(v) for k, v in found.groupdict().items()})
    return None
