"""`qaas-excel sandbox serve | stats | set-status | reset`: serve in its own process, the rest via CliRunner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from typer.testing import CliRunner

from qaas_excel.cli import app
from qaas_excel.config import sandbox_environment
from qaas_excel.resources import CHARGEPOINT
from qaas_excel.sandbox import DEFAULT_USER
from tests.sandbox.conftest import Caller

runner = CliRunner()


def test_serve_prints_one_ready_line_and_the_admin_commands_find_it(qaas_home: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "qaas_excel", "sandbox", "serve", "--port", "0", "--seed-demo-data",
         "--token-lifetime", "60", "--latency-ms", "0", "--fail-rate", "0", "--retry-after", "2", "--seed", "1"],
        env={**os.environ, "QAAS_HOME": str(qaas_home)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        ready = server.stdout.readline()
        env = sandbox_environment(qaas_home)
        assert ready.startswith("QaaS sandbox ready at https://127.0.0.1:") and env.base_url in ready
        assert requests.get(env.base_url + CHARGEPOINT.list_path, verify=env.ca_bundle, timeout=10).status_code == 401

        points = json.loads(runner.invoke(app, ["sandbox", "stats", "--json"]).stdout)
        assert points["requests"] == {"GET /chargepoints": 1}
        human = runner.invoke(app, ["sandbox", "stats"])
        assert human.exit_code == 0 and "GET /chargepoints" in human.stdout

        records = _admin(qaas_home).records("chargepoint", user=DEFAULT_USER)
        editable = next(r for r in records if r["status"] == "created")
        done = runner.invoke(app, ["sandbox", "set-status", str(editable["id"]), "sent_to_uba"])
        assert done.exit_code == 0 and "sent_to_uba" in done.stdout
        assert {r["id"]: r["status"] for r in _admin(qaas_home).records("chargepoint")}[editable["id"]] == "sent_to_uba"

        missing = runner.invoke(app, ["sandbox", "set-status", "999999", "sent_to_uba"])
        assert missing.exit_code == 1 and "No such record" in missing.stderr and "Traceback" not in missing.output
        wrong = runner.invoke(app, ["sandbox", "set-status", "1", "x", "--resource", "invoice"])
        assert wrong.exit_code == 1 and "unknown resource" in wrong.stderr

        assert runner.invoke(app, ["sandbox", "reset"]).exit_code == 0
        assert _admin(qaas_home).records("chargepoint") == []
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out == "" and "Traceback" not in err  # nothing but the one ready line
    assert not (qaas_home / "sandbox.json").exists()
    gone = runner.invoke(app, ["sandbox", "stats"])
    assert gone.exit_code == 2 and "sandbox serve" in gone.stderr


def _admin(home: Path):
    from qaas_excel.sandbox.admin import SandboxAdmin

    env = sandbox_environment(home)
    return SandboxAdmin(env.base_url, env.admin_token, env.ca_bundle)


def test_serve_on_a_port_in_use_says_so_and_leaves_the_running_sandbox_alone(sandbox, qaas_home: Path) -> None:
    ca_before = sandbox.ca_file.read_bytes()
    result = runner.invoke(app, ["sandbox", "serve", "--port", str(sandbox.port)])
    assert result.exit_code == 2 and f"Cannot listen on 127.0.0.1:{sandbox.port}" in result.stderr
    assert sandbox.ca_file.read_bytes() == ca_before and sandbox_environment(qaas_home) == sandbox.environment
    assert requests.get(sandbox.base_url + CHARGEPOINT.list_path, verify=str(sandbox.ca_file),
                        timeout=10).status_code == 401


def test_stats_of_a_sandbox_started_in_process(sandbox) -> None:
    Caller(sandbox)("GET", CHARGEPOINT.list_path)
    result = runner.invoke(app, ["sandbox", "stats", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["requests"] == {"GET /chargepoints": 1}
