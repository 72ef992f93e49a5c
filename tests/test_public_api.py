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
    "Listing",
    "KnowledgeBasePage",
    "KnowledgeBaseStatus",
    "KnowledgeBaseType",
    "RateController",
    "QConnectRouter",
    "RateWaitExceededError",
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


def test_every_exported_name_claims_the_public_module() -> None:
    """Every exported class and function says it is qconnect_async's, not a private module's."""
    for name in qconnect_async.__all__:
        if name == "__version__":
            continue
        assert getattr(qconnect_async, name).__module__ == "qconnect_async", name


def test_the_redis_limiter_claims_its_public_module() -> None:
    """qconnect_async.redis's names say they are qconnect_async.redis's."""
    redis = importlib.import_module("qconnect_async.redis")
    for name in redis.__all__:
        assert getattr(redis, name).__module__ == "qconnect_async.redis", name


def test_the_rate_controller_is_public() -> None:
    """RateController, which AdaptiveRateLimiter(controller=...) takes, is a public name."""
    assert "RateController" in qconnect_async.__all__
    assert qconnect_async.RateController().beta > 0


def test_testing_server_is_public() -> None:
    """The test server is part of the product."""
    testing = importlib.import_module("qconnect_async.testing")
    assert "QConnectServer" in testing.__all__


def test_version_comes_from_package_metadata() -> None:
    """__version__ is the installed distribution's version."""
    assert qconnect_async.__version__ != "0.0.0"


#: The core, lowest first: a module imports only modules before it.
CORE = [
    "_errors",
    "_call",
    "models",
    "_telemetry",
    "_redact",
    "_skew",
    "_checks",
    "_config",
    "_decode",
    "_warmup",
    "_transport",
    "_sts",
    "_upload",
    "_retry",
    "_ratecontrol",
    "_line",
    "_ratelimit",
    "_send",
    "_ops",
    "_listing",
    "_fanout",
    "_idempotency",
    "_imports",
    "_waitmany",
    "_jobmethods",
    "_client",
    "_pool",
    "_spread",
    "_routercalls",
    "_router",
]
#: The modules of the core that touch the wire: _warmup (botocore's loader), _transport
#: (aiobotocore), _sts (aiobotocore's STS client and refreshable credentials, for the
#: router's roles), _skew (botocore's signer) and _upload (the PUT, with aiohttp).
WIRE = {"_warmup", "_transport", "_sts", "_skew", "_upload"}


def test_imports_flow_one_way() -> None:
    """Lower layers never import higher ones; only the wire modules import aiobotocore."""
    src = pathlib.Path(qconnect_async.__file__).parent
    assert {p.stem for p in src.glob("_*.py")} - {"__init__", "__main__"} == set(CORE) - {"models"}
    for i, name in enumerate(CORE):
        text = (src / f"{name}.py").read_text()
        for higher in CORE[i + 1 :]:
            assert f"from .{higher} import" not in text, f"{name} imports {higher}"
            assert f"from . import {higher}" not in text, f"{name} imports {higher}"
        if name in WIRE:
            continue
        for lib in ("aiobotocore", "botocore", "aiohttp"):
            assert f"import {lib}" not in text and f"from {lib}" not in text, (name, lib)


def test_no_core_module_is_longer_than_450_lines() -> None:
    """One module, one concern: no module of the core or of the Redis limiter is over 450."""
    src = pathlib.Path(qconnect_async.__file__).parent
    paths = [*src.glob("*.py"), *(src / "redis").glob("*.py")]
    long = {path.name: n for path in paths if (n := len(path.read_text().splitlines())) > 450}
    assert long == {}
