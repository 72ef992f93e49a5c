"""RemoteQConnectServer: the controls of a server running in another process, over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ._api import ServerControls

CONTROL_PREFIX = "/moto-api/qconnect/"


class RemoteQConnectServer(ServerControls):
    """Seed, fault and read the stats of a QConnectServer at `endpoint_url`.

    For a server started with `python -m qconnect_async.testing`; it uses the server's HTTP
    control endpoint and never imports moto.
    """

    def __init__(self, endpoint_url: str, *, timeout: float = 30.0) -> None:
        self._endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout
        info = self._call("info")
        self.region = str(info["region"])
        self.account_id = str(info["account_id"])

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url

    def _call(self, call: str, /, **arguments: Any) -> Any:
        request = urllib.request.Request(
            f"{self._endpoint_url}{CONTROL_PREFIX}{call}",
            data=json.dumps(arguments).encode(),
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
