"""The pytest plugin: its fixtures, testing mode, isolation from ~/.aws, a light import, and a
clear message without the testing extra; the server command's output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qconnect_async.testing import QConnectServer

pytest_plugins = ("pytester",)

#: Load the plugin by its module, whatever entry point an older editable install registered.
PLUGIN = ["-p", "no:qconnect_async", "-p", "pytest_qconnect_async"]

_INI = (
    "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    "filterwarnings = error\n"
)


def test_fixture_is_a_running_server(qconnect_server: QConnectServer) -> None:
    """The entry point provides the fixture: a running, empty server."""
    assert qconnect_server.running
    assert qconnect_server.knowledge_base_ids() == []
    assert qconnect_server.stats.total_requests == 0


def test_fixture_resets_between_tests(pytester: pytest.Pytester) -> None:
    """One server per session; data, faults and counts do not leak from test to test."""
    pytester.makeini(_INI)
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


def test_client_and_env_fixtures_ignore_the_users_aws_setup(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """qconnect_client is an open client of the server, and under qconnect_env a plain
    QConnectClient() reaches it, whatever the user's profile, region, keys and endpoint say.
    Both run in testing mode: a throttle with Retry-After 30 s costs no wait."""
    config = tmp_path / "config"
    config.write_text("[profile mine]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:9\n")
    for name, value in {
        "AWS_CONFIG_FILE": str(config),
        "AWS_PROFILE": "mine",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "AKIAUSERS",
        "AWS_SESSION_TOKEN": "the user's",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    pytester.makeini(_INI)
    pytester.makepyfile(
        """
        import asyncio
        from qconnect_async import QConnectClient
        from qconnect_async._config import is_testing

        async def test_client(qconnect_server, qconnect_client):
            kb = qconnect_server.create_knowledge_base()
            qconnect_server.add_import_jobs(kb, 3)
            qconnect_server.throttle(times=2, retry_after=30)
            assert is_testing()
            listing = qconnect_client.list_import_jobs(kb)
            jobs = await asyncio.wait_for(_all(listing), 20)  # not 60 s of Retry-After
            assert len(jobs) == 3 and qconnect_server.stats.throttled == 2

        async def _all(listing):
            return [job async for job in listing]

        async def test_env(qconnect_env):
            kb = qconnect_env.create_knowledge_base()
            async with QConnectClient() as client:
                assert [job async for job in client.list_import_jobs(kb)] == []

        def test_testing_mode_is_off_elsewhere():
            assert not is_testing()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=3)


def test_plugin_import_is_light() -> None:
    """Loading the plugin (at every pytest start) imports none of the package, botocore,
    pydantic or moto."""
    heavy = ("qconnect_async", "aiobotocore", "botocore", "pydantic", "moto", "werkzeug")
    code = (
        "import sys, pytest_qconnect_async; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_without_the_testing_extra_the_fixture_says_what_to_install(tmp_path: Path) -> None:
    """No moto: the plugin still loads, and a test that uses the fixture fails with the pip
    command, not a ModuleNotFoundError."""
    (tmp_path / "test_it.py").write_text("def test_it(qconnect_server):\n    pass\n")
    code = (
        "import sys; sys.modules['moto'] = None; import pytest; "
        f"sys.exit(pytest.main(['-p', 'no:cacheprovider', *{PLUGIN!r}, '-q', sys.argv[1]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "test_it.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "the qconnect_server fixture needs the testing extra of qconnect-async" in done.stdout
    assert "pip install 'qconnect-async[testing]'" in done.stdout
    assert "ModuleNotFoundError" not in done.stdout


def test_the_server_command_prints_its_url_and_the_seeded_kbs() -> None:
    """`python -m qconnect_async.testing --json` prints one line: URL, region, seeded KB IDs;
    without --json the URL comes first, then the IDs."""
    for argv in (["--json"], []):
        command = [sys.executable, "-m", "qconnect_async.testing", "--seed-kbs", "2", *argv]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
            try:
                assert process.stdout is not None
                if argv:
                    info = json.loads(process.stdout.readline())
                    assert info["region"] == "us-east-1" and len(info["knowledge_base_ids"]) == 2
                    assert info["endpoint_url"].startswith("http://127.0.0.1:")
                else:
                    lines = [process.stdout.readline().strip() for _ in range(5)]
                    assert lines[0].startswith("http://127.0.0.1:")
                    assert lines[2] == "knowledge bases: 2 (0 import jobs each)"
                    assert all(len(kb) == 36 for kb in lines[3:])
            finally:
                process.terminate()
                assert process.wait(timeout=10) == 0


def test_the_server_command_without_moto_says_what_to_install() -> None:
    """Without moto the command exits 1 with the pip command, not a traceback."""
    code = (
        "import sys; sys.modules['moto'] = None; "
        "from qconnect_async.testing.__main__ import main; sys.exit(main([]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pip install 'qconnect-async[testing]'" in done.stderr
    assert "Traceback" not in done.stderr
