"""The control API's machinery: `@control` declares an operation once, `Controls` runs it.

Each `@control` method is one control operation: its signature and docstring are the public
API, its body the implementation, which checks its arguments itself (the checks here: a
ValueError is a 400 over HTTP) and acts on the server's ServerState. A subclass only says where
the body runs (`_invoke`): in-process (QConnectServer), or over HTTP (RemoteQConnectServer,
which binds the arguments to the same signature and sends them as JSON to
`POST /moto-api/qconnect/<name>`, where the server runs the same body). A result that is not
JSON (bytes, ServerStats) names its `Wire` codec.
"""

from __future__ import annotations

import functools
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

from ._model import ACCOUNT_RE, REGION_RE, knowledge_base_arn, model, split_knowledge_base_ref
from ._state import ServerState

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
S = TypeVar("S", bound="Controls")


@dataclass(frozen=True)
class Wire(Generic[T]):
    """How a result that is not JSON crosses the HTTP control endpoint."""

    encode: Callable[[T], Any]
    decode: Callable[[Any], T]


@dataclass(frozen=True)
class ControlCall:
    """One control operation: its name on the wire, its body and signature, its codec."""

    name: str
    body: Callable[..., Any]
    signature: inspect.Signature
    wire: Wire[Any] | None


#: Every control operation, by wire name (filled by `@control`).
CONTROLS: dict[str, ControlCall] = {}


def control(
    *, name: str | None = None, wire: Wire[Any] | None = None
) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Declare a control operation: the body runs wherever the subclass's `_invoke` says."""

    def declare(body: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        call = ControlCall(name or body.__name__, body, inspect.signature(body), wire)
        CONTROLS[call.name] = call

        @functools.wraps(body)
        def method(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return cast(R, self._invoke(call, args, kwargs))

        return method

    return declare


class Controls(ABC):
    """What every control operation runs on: where the server is, and how a call runs."""

    region: str
    account_id: str
    #: The server's state; only where the bodies run (in-process).
    _state: ServerState

    @property
    @abstractmethod
    def endpoint_url(self) -> str:
        """Where clients send requests, e.g. "http://127.0.0.1:50123"."""

    @abstractmethod
    def _invoke(self, call: ControlCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one control operation with the arguments a caller passed."""

    def knowledge_base_arn(
        self, knowledge_base_id: str, *, account: str | None = None, region: str | None = None
    ) -> str:
        """The ARN of a KB of `account` and `region` (None: the server's)."""
        return knowledge_base_arn(
            region or self.region, account or self.account_id, knowledge_base_id
        )


# -- argument checks (a ValueError is a 400 over HTTP) ------------------------------------------


def _check_place(account: str | None, region: str | None) -> None:
    if account is not None and not (isinstance(account, str) and ACCOUNT_RE.fullmatch(account)):
        raise ValueError(f"account must be 12 digits, not {account!r}")
    if region is not None and not (isinstance(region, str) and REGION_RE.fullmatch(region)):
        raise ValueError(f"not a Region: {region!r}")


def _check_operation(operation: str | None) -> None:
    if operation is not None and operation not in model().operation_names:
        raise ValueError(f"not a qconnect operation: {operation!r}")


def _check_times(times: int | None) -> None:
    if times is not None:
        _check_int("times", times, low=1)


def _check_target(operation: str | None, times: int | None, knowledge_base_id: str | None) -> None:
    _check_operation(operation)
    _check_times(times)
    if knowledge_base_id is not None and split_knowledge_base_ref(knowledge_base_id) is None:
        raise ValueError(f"not a knowledge base ID or ARN: {knowledge_base_id!r}")


def _check_int(name: str, value: Any, *, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {bounds}, not {value}")


def _check_number(
    name: str, value: Any, *, low: float, high: float | None = None, strict: bool = False
) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    if value < low or (strict and value == low) or (high is not None and value > high):
        raise ValueError(f"{name} is out of range: {value}")


def _check_choice(name: str, value: Any, choices: frozenset[str] | tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, not {value!r}")
