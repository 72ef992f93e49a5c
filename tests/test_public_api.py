"""The public face: every promised name importable from qconnect_async, nothing private leaks."""

from __future__ import annotations

import importlib
import pathlib

import qconnect_async

PROMISED = {
    "QConnectClient",
    "ImportJob",
    "ImportJobPage",
    "KnowledgeBase",
    "ImportJobStatus",
    "ImportJobType",
    "ExternalSource",
    "ExternalSourceConfiguration",
    "ConnectConfiguration",
    "UnknownConfiguration",
    "QConnectError",
    "ValidationError",
    "AccessDeniedError",
    "ResourceNotFoundError",
    "ThrottlingError",
    "ServiceError",
    "TransportError",
    "MalformedResponseError",
    "PaginationLoopError",
    "RetryPolicy",
    "ConflictError",
    "ServiceQuotaExceededError",
    "DeadlineExceededError",
    "CredentialsError",
    "ListingStream",
}


def test_promised_names_are_exported() -> None:
    """Every name design.md promises is in __all__ and importable."""
    assert set(qconnect_async.__all__) >= PROMISED
    for name in qconnect_async.__all__:
        assert getattr(qconnect_async, name) is not None


def test_all_is_sorted_and_public() -> None:
    """__all__ is sorted and names no private module member."""
    names = [n for n in qconnect_async.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert not [n for n in names if n.startswith("_")]


def test_exported_classes_claim_the_public_module() -> None:
    """Public classes live in private modules but every one is reachable from the package."""
    for name in qconnect_async.__all__:
        obj = getattr(qconnect_async, name)
        module = getattr(obj, "__module__", "")
        if module:
            assert module.startswith("qconnect_async")


def test_testing_server_is_public() -> None:
    """The test server is part of the product."""
    testing = importlib.import_module("qconnect_async.testing")
    assert "QConnectServer" in testing.__all__


def test_version_comes_from_package_metadata() -> None:
    """__version__ is the installed distribution's version."""
    assert qconnect_async.__version__ != "0.0.0"


def test_imports_flow_one_way() -> None:
    """Lower layers never import higher ones; only _transport imports aiobotocore."""
    order = [
        "_errors",
        "models",
        "_telemetry",
        "_redact",
        "_skew",
        "_inputs",
        "_warmup",
        "_transport",
        "_upload",
        "_retry",
        "_ratecontrol",
        "_ratelimit",
        "_send",
        "_paginate",
        "_fanout",
        "_jobs",
        "_client",
    ]
    src = pathlib.Path(qconnect_async.__file__).parent
    for i, name in enumerate(order):
        text = (src / f"{name}.py").read_text()
        for higher in order[i + 1 :]:
            assert f"from .{higher} import" not in text, f"{name} imports {higher}"
        assert "from . import" not in text
    for name in [
        "_errors",
        "models",
        "_telemetry",
        "_redact",
        "_inputs",
        "_retry",
        "_ratelimit",
        "_send",
        "_paginate",
        "_fanout",
        "_jobs",
        "_client",
    ]:
        text = (src / f"{name}.py").read_text()
        for lib in ("aiobotocore", "botocore", "aiohttp"):
            assert f"import {lib}" not in text and f"from {lib}" not in text, (name, lib)
