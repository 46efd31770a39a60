"""Sign-in through unmodified msal against the sandbox's Entra-style emulator."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from qaas_excel.api import errors
from qaas_excel.api.auth import MsalSignIn, StaticToken, token_claims
from qaas_excel.api.client import QaasClient
from qaas_excel.resources import OPERATOR
from qaas_excel.sandbox import DEFAULT_USER, OUTSIDER_USER, TEST_ACCOUNT_USER


def test_device_code_flow_with_auto_approve(sandbox, qaas_home: Path) -> None:
    shown = []
    signin = MsalSignIn(sandbox.environment, home=qaas_home)
    user = signin.login(shown.append, timeout=30)
    assert user == DEFAULT_USER
    assert shown and shown[0].verification_uri == f"{sandbox.base_url}/devicelogin" and len(shown[0].user_code) == 9
    claims = token_claims(signin.token())
    assert claims["scp"] == "user_impersonation" and claims["aud"] == sandbox.environment.client_id
    assert signin.accounts() == [DEFAULT_USER]


@pytest.mark.parametrize("sandbox", [{"auto_approve": False}], indirect=True)
def test_device_code_flow_approved_by_a_person_on_the_page(sandbox, qaas_home: Path) -> None:
    signin = MsalSignIn(sandbox.environment, home=qaas_home)
    flow = signin.start_login()
    code = signin.device_code(flow)
    page = requests.get(code.verification_uri, verify=str(sandbox.ca_file), timeout=10)
    assert page.status_code == 200 and "user_code" in page.text
    answer = requests.post(code.verification_uri, data={"user_code": code.user_code, "user": TEST_ACCOUNT_USER,
                                                        "action": "approve"}, verify=str(sandbox.ca_file), timeout=10)
    assert answer.status_code == 200 and "approved" in answer.text
    assert signin.finish_login(flow, timeout=20) == TEST_ACCOUNT_USER


@pytest.mark.parametrize("sandbox", [{"auto_approve": False}], indirect=True)
def test_declined_sign_in_is_an_error(sandbox, qaas_home: Path) -> None:
    signin = MsalSignIn(sandbox.environment, home=qaas_home)
    flow = signin.start_login()
    sandbox.admin.approve(flow["user_code"], decline=True)
    with pytest.raises(errors.SignInRequired, match="declined"):
        signin.finish_login(flow, timeout=20)


def test_a_second_process_reuses_the_cache_without_prompting(signed_in, qaas_home: Path) -> None:
    env = {**os.environ, "QAAS_HOME": str(qaas_home)}
    done = subprocess.run([sys.executable, "-m", "qaas_excel.cli", "whoami", "--env", "sandbox", "--json"],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert DEFAULT_USER in done.stdout
    assert "enter the code" not in done.stderr


@pytest.mark.parametrize("sandbox", [{"auto_approve": True, "token_lifetime": 2}], indirect=True)
def test_expired_access_token_is_refreshed_silently(sandbox, qaas_home: Path) -> None:
    signin = MsalSignIn(sandbox.environment, home=qaas_home)
    signin.login(lambda c: None, timeout=30)
    first = signin.token()
    time.sleep(2.5)
    with QaasClient(sandbox.environment, StaticToken(first)) as stale, pytest.raises(errors.SignInRequired):
        stale.list(OPERATOR)  # the old token is refused ...
    later = MsalSignIn(sandbox.environment, home=qaas_home)  # ... a fresh process refreshes it silently
    second = later.token()
    assert second != first
    with QaasClient(sandbox.environment, later) as client:
        assert client.list(OPERATOR) == []


def test_several_accounts_side_by_side_chosen_by_name(sandbox, qaas_home: Path) -> None:
    MsalSignIn(sandbox.environment, home=qaas_home).login(lambda c: None, timeout=30)
    sandbox.admin.set_auto_approve_user(TEST_ACCOUNT_USER)
    MsalSignIn(sandbox.environment, home=qaas_home).login(lambda c: None, timeout=30)
    main = MsalSignIn(sandbox.environment, home=qaas_home, account=DEFAULT_USER)
    test = MsalSignIn(sandbox.environment, home=qaas_home, account=TEST_ACCOUNT_USER)
    assert token_claims(main.token())["preferred_username"] == DEFAULT_USER
    assert token_claims(test.token())["preferred_username"] == TEST_ACCOUNT_USER
    with pytest.raises(errors.SignInRequired, match="not signed in"):
        MsalSignIn(sandbox.environment, home=qaas_home, account="nobody@example.test").token()
    assert test.logout() == [TEST_ACCOUNT_USER]
    assert MsalSignIn(sandbox.environment, home=qaas_home).accounts() == [DEFAULT_USER]


def test_outsider_signs_in_but_gets_forbidden(sandbox, qaas_home: Path) -> None:
    sandbox.admin.set_auto_approve_user(OUTSIDER_USER)
    signin = MsalSignIn(sandbox.environment, home=qaas_home)
    signin.login(lambda c: None, timeout=30)
    with QaasClient(sandbox.environment, signin) as client, pytest.raises(errors.ForbiddenError):
        client.list(OPERATOR)


def test_not_signed_in_says_how_to_sign_in(sandbox, qaas_home: Path) -> None:
    with pytest.raises(errors.SignInRequired, match="qaas-excel login --env sandbox"):
        MsalSignIn(sandbox.environment, home=qaas_home).token()


def test_token_cache_is_readable_only_by_its_owner(signed_in, qaas_home: Path) -> None:
    cache = qaas_home / "token_cache.sandbox.bin"
    assert cache.exists()
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0


def test_forged_and_malformed_tokens_get_401(sandbox, client) -> None:
    real = client.tokens.token()
    claims = jwt.decode(real, options={"verify_signature": False})
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256")
    url = sandbox.base_url + OPERATOR.list_path
    for header in (None, "Bearer not-a-jwt", f"Bearer {forged}", "Basic abc"):
        headers = {"Authorization": header} if header else {}
        answer = requests.get(url, headers=headers, verify=str(sandbox.ca_file), timeout=10)
        assert answer.status_code == 401 and answer.content == b""
    assert requests.get(url, headers={"Authorization": f"Bearer {real}"}, verify=str(sandbox.ca_file),
                        timeout=10).status_code == 204
