"""RemoteQConnectServer: the controls of a server in another process, over HTTP.

Its own module, importing no moto: a process that only drives a server needs none.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence, Set
from typing import Any

from ._control import ServerControls
from ._declare import ControlCall
from ._state import CONTROL_PREFIX


class RemoteQConnectServer(ServerControls):
    """Seed, fault and read the stats of a QConnectServer at `endpoint_url`.

    For a server started with `python -m qconnect_async.testing`: each control method sends
    its arguments to the server's HTTP control endpoint, where the same method runs.
    """

    def __init__(self, endpoint_url: str, *, timeout: float = 30.0) -> None:
        self._endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout
        info = self._info()
        self.region = str(info["region"])
        self.account_id = str(info["account_id"])

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url

    def _invoke(self, call: ControlCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # Bound here, so that a wrong call fails as a local one would (a TypeError).
        bound = call.signature.bind(self, *args, **kwargs)
        arguments = dict(list(bound.arguments.items())[1:])
        result = self._post(call.name, arguments)
        return result if call.wire is None else call.wire.decode(result)

    def _post(self, call: str, arguments: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self._endpoint_url}{CONTROL_PREFIX}{call}",
            data=json.dumps(arguments, default=_jsonable).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.load(response)["result"]
        except urllib.error.HTTPError as exc:
            with exc:
                body = exc.read().decode(errors="replace")
            try:
                detail = json.loads(body).get("error", body)
            except ValueError:
                detail = body
            error = LookupError if exc.code == 404 else ValueError
            raise error(f"{call}: {detail}") from None

    def __repr__(self) -> str:
        return f"<RemoteQConnectServer {self._endpoint_url} region={self.region}>"


def _jsonable(value: Any) -> Any:
    """What json.dumps cannot write itself: other mappings and sequences (tags, errors)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence | Set) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
