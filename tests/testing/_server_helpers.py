"""Helpers of the fake's tests: a client without retries, errors as (status, code, headers),
and every response body checked against botocore's model (`WireLog`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from qconnect_async.testing import QConnectServer

NO_RETRY = Config(retries={"total_max_attempts": 1})


def make_client(server: QConnectServer, config: Config = NO_RETRY) -> Any:
    """A boto3 client of the server (no retries by default)."""
    return boto3.client(
        "qconnect", endpoint_url=server.endpoint_url, region_name=server.region, config=config
    )


def aio_client(server: QConnectServer) -> Any:
    """An aiobotocore client of the server, dummy keys, no retries: use it in `async with`."""
    return get_session().create_client(
        "qconnect",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY,
    )


def error_of(call: Callable[[], Any]) -> tuple[int, str, dict[str, str]]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    meta = response["ResponseMetadata"]
    return meta["HTTPStatusCode"], response["Error"]["Code"], meta["HTTPHeaders"]


def wire_errors(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """How a JSON value sent on the wire breaks `shape` (rest-json: timestamps are numbers)."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        errors = [f"{path}.{k}: unknown member" for k in value if k not in shape.members]
        errors += [f"{path}.{k}: missing" for k in shape.required_members if k not in value]
        if meta.get("union") and len(value) != 1:
            errors.append(f"{path}: a union with {len(value)} members")
        for name, member in shape.members.items():
            if name in value:
                errors += wire_errors(member, value[name], f"{path}.{name}")
        return errors
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [
            e for i, v in enumerate(value) for e in wire_errors(shape.member, v, f"{path}[{i}]")
        ]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict) or not meta.get("min", 0) <= len(value) <= meta.get(
            "max", 10**9
        ):
            return [f"{path}: not a map of the right size"]
        return [e for k, v in value.items() for e in wire_errors(shape.value, v, f"{path}.{k}")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: not a string"]
        if meta.get("enum") and value not in meta["enum"]:
            return [f"{path}: {value!r} not in the enum"]
        if meta.get("pattern") and not re.fullmatch(meta["pattern"], value):
            return [f"{path}: {value!r} does not match {meta['pattern']}"]
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            return [f"{path}: length {len(value)} out of range"]
        return []
    if kind == "timestamp":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: timestamp {value!r} is not epoch seconds"]
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: int"]
    return []


class WireLog:
    """Every response body botocore received, checked against the operation's shapes."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.count = 0

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        self.count += 1
        name, status = operation_model.name, response_dict["status_code"]
        headers = {k.lower(): v for k, v in response_dict["headers"].items()}
        if "x-amzn-requestid" not in headers:
            self.errors.append(f"{name}: no x-amzn-RequestId")
        if status >= 300:
            body = json.loads(response_dict["body"])
            if "__type" not in body or not headers.get("x-amzn-errortype"):
                self.errors.append(f"{name}: error {status} without its code")
            return
        expected = operation_model.http.get("responseCode", 200)
        if status != expected:
            self.errors.append(f"{name}: status {status}, the model says {expected}")
        if operation_model.output_shape is not None and operation_model.output_shape.members:
            body = json.loads(response_dict["body"])
            self.errors += [f"{name} {e}" for e in wire_errors(operation_model.output_shape, body)]
