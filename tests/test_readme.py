"""Every Python snippet in README.md runs, in order, against QConnectServer."""

from __future__ import annotations

import asyncio
import inspect
import pathlib
import re
from typing import Any

import pytest

from qconnect_async import QConnectClient, RetryPolicy
from qconnect_async.testing import QConnectServer

README = pathlib.Path(__file__).parent.parent / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
#: A row of the README's "Client options" table: its options cell, its default cell.
_OPTION_ROW = re.compile(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| ([^|]*) \|", re.MULTILINE)


def snippets() -> list[str]:
    return _BLOCK.findall(README.read_text())


async def call_with_fixtures(test: Any, server: QConnectServer) -> None:
    """Run a README test as pytest would, with the plugin's fixtures it names."""
    client = QConnectClient(endpoint_url=server.endpoint_url, region_name=server.region)
    async with client:
        fixtures = {"qconnect_server": server, "qconnect_env": server, "qconnect_client": client}
        await test(**{name: fixtures[name] for name in inspect.signature(test).parameters})


def test_readme_has_snippets() -> None:
    """The README shows code (so the test below has something to run)."""
    assert len(snippets()) >= 6


def test_readme_snippets_run(
    qconnect_server: QConnectServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Each block runs in one shared namespace, as a reader would paste them."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    kb_ids = [qconnect_server.create_knowledge_base(f"kb{i}") for i in range(3)]
    for kb in kb_ids:
        qconnect_server.add_import_jobs(kb, 120)
    namespace: dict[str, Any] = {"kb_id": kb_ids[0], "kb_ids": kb_ids}
    for index, code in enumerate(snippets()):
        before = set(namespace)
        exec(compile(code, f"README.md[python block {index}]", "exec"), namespace)
        for name in sorted(set(namespace) - before):
            value = namespace[name]
            # A pytest example: call it with the fixture, as pytest would.
            if name.startswith("test_") and inspect.iscoroutinefunction(value):
                asyncio.run(call_with_fixtures(value, qconnect_server))
        if "app" in namespace and "app" not in before:
            app = namespace["app"]

            async def run_lifespan(app: Any = app) -> None:
                async with app.router.lifespan_context(app):
                    assert app.state.qconnect is not None

            asyncio.run(run_lifespan())
    out = capsys.readouterr().out
    assert "the rest:" in out
    assert "jobs in all" in out


def test_readme_states_every_client_option_and_its_default() -> None:
    """The "Client options" table names every keyword of QConnectClient() once, each number
    it gives as a default is the signature's, and the RetryPolicy() it describes is the default."""
    section = README.read_text().split("### Client options", 1)[1].split("\n### ", 1)[0]
    rows = {
        name.strip("`"): default
        for names, default in _OPTION_ROW.findall(section)
        for name in names.split(", ")
    }
    parameters = inspect.signature(QConnectClient).parameters
    assert sorted(rows) == sorted(parameters)
    for name, default in rows.items():
        number = re.match(r"`(\d+(?:\.\d+)?)`", default)
        if number:
            assert float(number.group(1)) == parameters[name].default, name
    policy = RetryPolicy()
    retry = rows["retry"]
    assert f"{policy.max_attempts} attempts" in retry
    connect = f"({policy.max_connect_attempts} while the endpoint refuses or does not answer"
    assert connect in retry
    assert f"backoff {policy.base_delay:g} s doubling up to {policy.max_delay:g} s" in retry
    assert f"retry quota {policy.retry_quota}" in retry and policy.deadline is None
