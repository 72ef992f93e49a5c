"""The documentation: every Python snippet of README.md and of every page in docs/ runs, in
order, against QConnectServer; the API reference has an entry for every public name; the
client options table states every option and its default."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pathlib
import re
from typing import Any

import pytest

from qconnect_async import QConnectClient, RetryPolicy
from qconnect_async.testing import QConnectServer

ROOT = pathlib.Path(__file__).parent.parent
DOCS = ROOT / "docs"
#: Every Markdown file whose snippets run: the README, then the site's pages.
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
#: A row of the "Client options" table: its options cell, its default cell.
_OPTION_ROW = re.compile(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \| ([^|]*) \|", re.MULTILINE)
#: An entry of the API reference: mkdocstrings' `::: dotted.name` line.
_ENTRY = re.compile(r"^::: ([\w.]+)$", re.MULTILINE)
#: What a page's snippets print, where that is the proof they did their work.
_PRINTS = {
    "docs/guides/listing.md": ("the rest:", "jobs in all"),
    "docs/guides/client.md": ("max_concurrency=16",),
}
#: The public modules and where their reference lives.
_REFERENCE = {
    "qconnect_async": DOCS / "reference" / "index.md",
    "qconnect_async.testing": DOCS / "reference" / "testing.md",
    "qconnect_async.redis": DOCS / "reference" / "redis.md",
}


def snippets(page: pathlib.Path) -> list[str]:
    return _BLOCK.findall(page.read_text())


def _name(page: pathlib.Path) -> str:
    return page.relative_to(ROOT).as_posix()


async def call_with_fixtures(test: Any, server: QConnectServer) -> None:
    """Run a snippet's test as pytest would, with the plugin's fixtures it names."""
    client = QConnectClient(endpoint_url=server.endpoint_url, region_name=server.region)
    async with client:
        fixtures = {"qconnect_server": server, "qconnect_env": server, "qconnect_client": client}
        await test(**{name: fixtures[name] for name in inspect.signature(test).parameters})


def test_the_docs_show_code() -> None:
    """README and the guides show code (so the test below has something to run), every guide
    at least one snippet but the ones that are prose by nature."""
    assert len(snippets(ROOT / "README.md")) >= 1
    prose = {"cli.md", "design.md", "development.md", "performance.md"}
    for guide in sorted((DOCS / "guides").glob("*.md")):
        assert guide.name in prose or snippets(guide), _name(guide)


@pytest.mark.parametrize("page", [p for p in PAGES if snippets(p)], ids=_name)
def test_every_snippet_of_the_page_runs(
    page: pathlib.Path,
    qconnect_server: QConnectServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    """Each block of a page runs in one namespace, in order, as a reader would paste them;
    a test function it defines runs with the fixtures it names, a FastAPI app's lifespan runs."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_QCONNECT", qconnect_server.endpoint_url)
    kb_ids = [qconnect_server.create_knowledge_base(f"kb{i}") for i in range(3)]
    for kb in kb_ids:
        qconnect_server.add_import_jobs(kb, 120)
    namespace: dict[str, Any] = {"kb_id": kb_ids[0], "kb_ids": kb_ids}
    for index, code in enumerate(snippets(page)):
        before = set(namespace)
        exec(compile(code, f"{_name(page)}[python block {index}]", "exec"), namespace)
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
    for text in _PRINTS.get(_name(page), ()):
        assert text in out


@pytest.mark.parametrize("module", sorted(_REFERENCE))
def test_the_reference_has_an_entry_for_every_public_name(module: str) -> None:
    """Every name of a public module's __all__ (but __version__) has its `:::` entry in the
    API reference, and the reference names nothing else."""
    public = {
        f"{module}.{name}"
        for name in importlib.import_module(module).__all__
        if not name.startswith("__")
    }
    entries = set(_ENTRY.findall(_REFERENCE[module].read_text()))
    assert sorted(public - entries) == [], "public names without a reference entry"
    assert sorted(entries - public) == [], "reference entries that are not public names"


def test_the_client_guide_states_every_client_option_and_its_default() -> None:
    """The "Client options" table names every keyword of QConnectClient() once, each number
    it gives as a default is the signature's, and the RetryPolicy() it describes is the default."""
    guide = (DOCS / "guides" / "client.md").read_text()
    section = guide.split("## Client options", 1)[1].split("\n## ", 1)[0]
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
