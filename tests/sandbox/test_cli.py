"""The API commands against a sandbox as a user runs them: separate processes, found through the state directory.

(The sandbox's own commands: test_sandbox_cli.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qaas_excel", *args], env={**os.environ, "QAAS_HOME": str(home)},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_serve_then_sign_in_create_list_and_admin_from_other_processes(qaas_home: Path) -> None:
    server = subprocess.Popen([sys.executable, "-m", "qaas_excel", "sandbox", "serve", "--port", "0",
                               "--auto-approve", "--seed-demo-data"], env={**os.environ, "QAAS_HOME": str(qaas_home)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        ready = server.stdout.readline()
        assert "ready at https://127.0.0.1:" in ready
        assert (qaas_home / "sandbox.json").exists()

        login = run(qaas_home, "login", "--env", "sandbox")
        assert login.returncode == 0 and "Signed in to sandbox as demo@qaas-sandbox.test" in login.stdout
        assert "/devicelogin" in login.stderr  # the code and where to enter it

        created = run(qaas_home, "operators", "create", "--env", "sandbox", "--name", "CLI GmbH", "--street",
                      "Weg 1", "--zip", "01067", "--town", "Dresden", "--reference", "CLI-1", "--json")
        assert created.returncode == 0, created.stderr
        again = run(qaas_home, "operators", "create", "--env", "sandbox", "--name", "CLI GmbH", "--street",
                    "Weg 1", "--zip", "01067", "--town", "Dresden", "--reference", "CLI-1", "--json")
        assert again.returncode == 0, again.stderr  # reused, as its help says, never duplicated
        assert json.loads(again.stdout)["id"] == json.loads(created.stdout)["id"]
        assert f"Reused operator record {json.loads(created.stdout)['id']}" in again.stderr

        listed = json.loads(run(qaas_home, "operators", "list", "--env", "sandbox", "--json").stdout)
        assert "CLI-1" in [o["customer_reference"] for o in listed] and len(listed) == 3  # two seeded
        points = json.loads(run(qaas_home, "chargepoints", "list", "--env", "sandbox", "--json").stdout)
        frozen = [p for p in points if p["status"] == "sent_to_uba"]
        assert frozen and all(isinstance(p["amount"], str) for p in points)  # exact decimals in JSON

        created_id = [p for p in points if p["status"] == "created"][0]["id"]
        assert run(qaas_home, "sandbox", "set-status", str(created_id), "sent_to_uba").returncode == 0
        shown = json.loads(run(qaas_home, "chargepoints", "show", str(created_id), "--env", "sandbox", "--json").stdout)
        assert shown["status"] == "sent_to_uba"  # the object, not a list
        assert run(qaas_home, "chargepoints", "show", "999999", "--env", "sandbox").returncode == 1

        who = run(qaas_home, "whoami", "--env", "sandbox")
        assert who.returncode == 0 and "demo@qaas-sandbox.test" in who.stdout
        assert run(qaas_home, "logout", "--env", "sandbox").returncode == 0
        assert run(qaas_home, "operators", "list", "--env", "sandbox").returncode == 3
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not (qaas_home / "sandbox.json").exists()
