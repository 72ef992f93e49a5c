"""The pytest plugin: the `qconnect_server` fixture, and a light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qconnect_async.testing import QConnectServer

pytest_plugins = ("pytester",)


def test_fixture_is_a_running_server(qconnect_server: QConnectServer) -> None:
    """The entry point provides the fixture: a running, empty server."""
    assert qconnect_server.running
    assert qconnect_server.knowledge_base_ids() == []
    assert qconnect_server.stats.total_requests == 0


def test_fixture_resets_between_tests(pytester: pytest.Pytester) -> None:
    """One server per session; data, faults and counts do not leak from test to test."""
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    pytester.makepyfile(
        """
        import boto3
        from botocore.config import Config

        URLS = set()

        def client(server):
            return boto3.client(
                "qconnect", endpoint_url=server.endpoint_url, region_name=server.region,
                aws_access_key_id="x", aws_secret_access_key="x",
                config=Config(retries={"total_max_attempts": 1}),
            )

        def test_one(qconnect_server):
            URLS.add(qconnect_server.endpoint_url)
            kb = qconnect_server.create_knowledge_base()
            qconnect_server.throttle("ListKnowledgeBases", times=None)
            assert qconnect_server.knowledge_base_ids() == [kb]

        def test_two(qconnect_server):
            URLS.add(qconnect_server.endpoint_url)
            assert qconnect_server.knowledge_base_ids() == []
            c = client(qconnect_server)
            assert c.list_knowledge_bases()["knowledgeBaseSummaries"] == []
            c.close()
            assert qconnect_server.stats.throttled == 0
            assert len(URLS) == 1
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_plugin_import_is_light() -> None:
    """Loading the plugin (at every pytest start) imports neither moto nor the server."""
    code = (
        "import sys, qconnect_async.testing._plugin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'werkzeug', 'flask')"
        " or m.startswith('qconnect_async.testing._server')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
