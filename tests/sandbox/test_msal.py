"""The sign-in emulator against UNMODIFIED msal (no project code in between), and its OAuth errors."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import jwt
import msal
import pytest
import requests

from qaas_excel.config import API_SCOPE_NAME, CLIENT_ID, TENANT_ID
from qaas_excel.resources import OPERATOR
from qaas_excel.sandbox import COLLEAGUE_USER, DEFAULT_USER, OUTSIDER_USER, TEST_ACCOUNT_USER, identity

SCOPES = [f"{CLIENT_ID}/{API_SCOPE_NAME}"]
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class CaSession(requests.Session):
    """Passes the sandbox's CA on every request: REQUESTS_CA_BUNDLE would win over Session.verify."""

    def __init__(self, ca_file: str) -> None:
        super().__init__()
        self.ca_file = ca_file

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["verify"] = self.ca_file
        return super().request(method, url, *args, **kwargs)


def msal_app(sandbox) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(CLIENT_ID, authority=sandbox.authority, instance_discovery=False,
                                        validate_authority=False, http_client=CaSession(str(sandbox.ca_file)))


def api_status(sandbox, access_token: str) -> int:
    return requests.get(sandbox.base_url + OPERATOR.list_path, headers={"Authorization": f"Bearer {access_token}"},
                        verify=str(sandbox.ca_file), timeout=10).status_code


def token_endpoint(sandbox, **form: str) -> requests.Response:
    return requests.post(f"{sandbox.authority}/oauth2/v2.0/token", data={"client_id": CLIENT_ID, **form},
                         verify=str(sandbox.ca_file), timeout=10)


def test_device_code_flow_with_auto_approve_and_the_token_claims(sandbox) -> None:
    app = msal_app(sandbox)
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert flow["verification_uri"] == f"{sandbox.base_url}/devicelogin"
    assert re.fullmatch(r"[A-Z2-9]{9}", flow["user_code"]) and flow["user_code"] in flow["message"]
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == DEFAULT_USER
    assert [a["username"] for a in app.get_accounts()] == [DEFAULT_USER]

    claims = jwt.decode(result["access_token"], sandbox.identity.signer.public_key, algorithms=["RS256"],
                        audience=CLIENT_ID)
    assert jwt.get_unverified_header(result["access_token"])["alg"] == "RS256"
    assert claims["iss"] == f"{sandbox.authority}/v2.0" and claims["tid"] == TENANT_ID
    assert claims["scp"] == API_SCOPE_NAME and claims["preferred_username"] == DEFAULT_USER
    assert claims["oid"] and claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == 3600
    assert api_status(sandbox, result["access_token"]) == 204


@pytest.mark.parametrize("sandbox", [{"auto_approve": False}], indirect=True)
def test_device_code_approved_by_a_person_on_the_devicelogin_page(sandbox) -> None:
    app = msal_app(sandbox)
    flow = app.initiate_device_flow(scopes=SCOPES)
    page = requests.get(flow["verification_uri"], verify=str(sandbox.ca_file), timeout=10)
    assert page.status_code == 200 and 'name="user_code"' in page.text
    for user in (DEFAULT_USER, COLLEAGUE_USER, TEST_ACCOUNT_USER, OUTSIDER_USER):
        assert f'value="{user}"' in page.text
    answers: dict[str, Any] = {}
    waiting = threading.Thread(target=lambda: answers.update(app.acquire_token_by_device_flow(flow)))
    waiting.start()  # msal polls while the person is still typing
    time.sleep(0.3)
    approved = requests.post(flow["verification_uri"], verify=str(sandbox.ca_file), timeout=10,
                             data={"user_code": flow["user_code"].lower(), "user": COLLEAGUE_USER,
                                   "action": "approve"})
    assert approved.status_code == 200 and COLLEAGUE_USER in approved.text
    waiting.join(timeout=20)
    assert answers.get("id_token_claims", {}).get("preferred_username") == COLLEAGUE_USER, answers
    assert sandbox.admin.requests("POST /{tenant}/oauth2/v2.0/token") >= 2  # pending at least once
    wrong = requests.post(flow["verification_uri"], data={"user_code": "NOSUCHCODE", "user": DEFAULT_USER},
                          verify=str(sandbox.ca_file), timeout=10)
    assert wrong.status_code == 400 and "unknown" in wrong.text


@pytest.mark.parametrize("sandbox", [{"auto_approve": False}], indirect=True)
def test_device_code_errors_as_entra_names_them(sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    app = msal_app(sandbox)
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert token_endpoint(sandbox, grant_type=DEVICE_CODE_GRANT, device_code=flow["device_code"]).json()[
        "error"] == "authorization_pending"
    assert token_endpoint(sandbox, grant_type=DEVICE_CODE_GRANT, device_code="nonsense").json()[
        "error"] == "bad_verification_code"
    sandbox.admin.approve(flow["user_code"], decline=True)
    declined = token_endpoint(sandbox, grant_type=DEVICE_CODE_GRANT, device_code=flow["device_code"])
    assert declined.status_code == 400 and declined.json()["error"] == "authorization_declined"

    monkeypatch.setattr(identity, "DEVICE_CODE_LIFETIME_S", -1)  # born expired
    stale = app.initiate_device_flow(scopes=SCOPES)
    expired = token_endpoint(sandbox, grant_type=DEVICE_CODE_GRANT, device_code=stale["device_code"])
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token"


@pytest.mark.parametrize("sandbox", [{"token_lifetime": 3}], indirect=True)
def test_silent_refresh_after_expiry_and_the_old_token_gets_401(sandbox) -> None:
    app = msal_app(sandbox)
    first = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=SCOPES))
    # 3 s, not 1: on a loaded machine the first call may come more than a second after the sign-in
    assert first["expires_in"] == 3 and api_status(sandbox, first["access_token"]) == 204
    time.sleep(3.3)
    assert api_status(sandbox, first["access_token"]) == 401
    [account] = app.get_accounts()
    second = app.acquire_token_silent(SCOPES, account=account)
    assert second and second["access_token"] != first["access_token"], second
    assert api_status(sandbox, second["access_token"]) == 204


def test_refresh_tokens_slide_and_unknown_ones_are_invalid_grant(sandbox) -> None:
    app = msal_app(sandbox)
    first = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=SCOPES))
    scope = " ".join(SCOPES + ["offline_access"])
    renewed = token_endpoint(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"], scope=scope)
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != first["refresh_token"]
    # used tokens stay valid (as in Entra): two processes sharing a cache may refresh at once
    again = token_endpoint(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"], scope=scope)
    assert again.status_code == 200
    for bad in ("", "0.AV0A-not-issued-here"):
        refused = token_endpoint(sandbox, grant_type="refresh_token", refresh_token=bad, scope=scope)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_unknown_tenant_client_grant_or_scope_are_refused(sandbox) -> None:
    ca = str(sandbox.ca_file)
    other_tenant = f"{sandbox.base_url}/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration"
    assert requests.get(other_tenant, verify=ca, timeout=10).json()["error"] == "invalid_tenant"
    unknown_client = requests.post(f"{sandbox.authority}/oauth2/v2.0/devicecode", verify=ca, timeout=10,
                                   data={"client_id": "11111111-2222-3333-4444-555555555555", "scope": SCOPES[0]})
    assert unknown_client.status_code == 400 and unknown_client.json()["error"] == "unauthorized_client"
    no_scope = requests.post(f"{sandbox.authority}/oauth2/v2.0/devicecode", verify=ca, timeout=10,
                             data={"client_id": CLIENT_ID, "scope": "openid profile"})
    assert no_scope.json()["error"] == "invalid_scope"
    assert token_endpoint(sandbox, grant_type="password").json()["error"] == "unsupported_grant_type"
    assert token_endpoint(sandbox).json()["error"] == "invalid_request"


def test_discovery_and_keys_verify_the_tokens(sandbox) -> None:
    ca = str(sandbox.ca_file)
    config = requests.get(f"{sandbox.authority}/v2.0/.well-known/openid-configuration", verify=ca, timeout=10).json()
    assert config["issuer"] == f"{sandbox.authority}/v2.0"
    assert config["token_endpoint"] == f"{sandbox.authority}/oauth2/v2.0/token"
    assert config["device_authorization_endpoint"] == f"{sandbox.authority}/oauth2/v2.0/devicecode"
    assert config["authorization_endpoint"].startswith(sandbox.authority)
    keys = requests.get(config["jwks_uri"], verify=ca, timeout=10).json()["keys"]
    app = msal_app(sandbox)
    token = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=SCOPES))["access_token"]
    key = jwt.PyJWK(keys[0]).key
    assert jwt.decode(token, key, algorithms=["RS256"], audience=CLIENT_ID)["preferred_username"] == DEFAULT_USER
