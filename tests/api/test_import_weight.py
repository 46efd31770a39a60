"""What a run loads and does not need: every module loaded stays in memory for the whole run (issue 20, P7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parents[2]


def test_a_push_does_not_load_pyjwt_or_cryptography(tmp_path: Path) -> None:
    """PyJWT is only for showing who signed in; it loads ``cryptography``'s X.509 modules (8 MiB of a 50,000-row
    push's peak) that msal's sign-in does not use."""
    token = jwt.encode({"preferred_username": "a@b.de"}, "k" * 32, algorithm="HS256")  # here, not in the child
    code = ("import sys\nimport qaas_excel.cli, qaas_excel.pipeline, qaas_excel.api.client, qaas_excel.api.auth\n"
            "from qaas_excel.workbook import package_book\n"
            "print(sorted(m for m in ('jwt', 'cryptography') if m in sys.modules))\n"
            "from qaas_excel.api.auth import token_claims\n"
            f"print(token_claims({token!r}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QAAS_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.splitlines() == ["[]", "{'preferred_username': 'a@b.de'}"]
