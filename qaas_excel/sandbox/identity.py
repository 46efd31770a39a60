"""An Entra-style sign-in that unmodified msal accepts: OIDC discovery, device code, token endpoint.

Routes, under ``https://127.0.0.1:PORT/<tenant>`` (only the FAQ's tenant id is known here):

- ``GET /<tenant>/v2.0/.well-known/openid-configuration`` and ``GET /<tenant>/discovery/v2.0/keys``
- ``POST /<tenant>/oauth2/v2.0/devicecode`` (form ``client_id``, ``scope``)
- ``POST /<tenant>/oauth2/v2.0/token``: grant types device code (``authorization_pending``,
  ``authorization_declined``, ``expired_token``, ``bad_verification_code``) and ``refresh_token``
  (``invalid_grant`` when unknown or expired)
- ``GET|POST /devicelogin``: the page where a person enters the user code and picks a user

Access tokens are RS256 JWTs (``aud`` = client id, ``scp`` = user_impersonation) signed with a key
kept in the sandbox database, so they survive a restart, even on another port. Refresh tokens are
opaque and stored; each use returns a new one valid 90 days (the used one stays valid, as in Entra).
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse

from qaas_excel.config import API_SCOPE_NAME, CLIENT_ID, TENANT_ID
from qaas_excel.sandbox import DEFAULT_USER, HOST, USERS
from qaas_excel.sandbox.store import Store

REFRESH_LIFETIME_S = 90 * 24 * 3600
DEVICE_CODE_LIFETIME_S = 900
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Any start of this sandbox signed with the key in its database: the port may differ after a restart.
ISSUER = re.compile(rf"^https://{re.escape(HOST)}:\d+/{TENANT_ID}/v2\.0$")


def user_oid(username: str) -> str:
    """A stable object id per user, like Entra's."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "qaas-sandbox:" + username))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenError(Exception):
    """A bearer token the API must answer with 401."""


class Signer:
    """The sandbox's RSA key: persisted in the store on first use."""

    def __init__(self, store: Store) -> None:
        pem = store.get_meta("signing_key")
        if pem is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
            store.set_meta("signing_key", pem)
        self.private_key = cast(rsa.RSAPrivateKey, serialization.load_pem_private_key(pem.encode(), password=None))
        self.public_key = self.private_key.public_key()
        self.kid = _b64url(self.public_key.public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)[-12:])

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    expires: float
    username: str | None = None
    declined: bool = False


class Identity:
    """Issues and checks tokens; holds pending device codes in memory (they live 15 minutes)."""

    def __init__(self, store: Store, *, token_lifetime: int = 3600, auto_approve: bool = False) -> None:
        self.store = store
        self.signer = Signer(store)
        self.token_lifetime = token_lifetime
        self.auto_approve = auto_approve
        self.auto_approve_user = DEFAULT_USER
        self.base_url = ""  # set once the server knows its port
        self._codes: dict[str, DeviceCode] = {}
        self._lock = threading.Lock()

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{TENANT_ID}/v2.0"

    # -- tokens ------------------------------------------------------------------------------------
    def issue(self, username: str, client_id: str) -> dict[str, Any]:
        now = int(time.time())
        oid = user_oid(username)
        common = {"iss": self.issuer, "iat": now, "nbf": now, "oid": oid, "sub": oid, "tid": TENANT_ID,
                  "preferred_username": username, "name": username.split("@")[0].title(), "ver": "2.0"}
        access = self.signer.sign({**common, "aud": CLIENT_ID, "exp": now + self.token_lifetime,
                                   "scp": API_SCOPE_NAME, "azp": client_id})
        id_token = self.signer.sign({**common, "aud": client_id, "exp": now + 3600})
        refresh = secrets.token_urlsafe(48)
        self.store.add_refresh_token(refresh, username, REFRESH_LIFETIME_S)
        return {
            "token_type": "Bearer",
            "scope": f"{CLIENT_ID}/{API_SCOPE_NAME}",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": _b64url(json.dumps({"uid": oid, "utid": TENANT_ID}).encode()),
        }

    def verify(self, authorization: str | None) -> str:
        """The user name a bearer token stands for; TokenError for anything not acceptable."""
        if not authorization or not authorization.startswith("Bearer "):
            raise TokenError("missing bearer token")
        token = authorization[len("Bearer "):].strip()
        try:
            claims = jwt.decode(token, self.signer.public_key, algorithms=["RS256"], audience=CLIENT_ID,
                                options={"require": ["exp", "iat", "nbf", "aud", "iss"]})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        if not ISSUER.match(str(claims["iss"])):
            raise TokenError(f"token from another issuer: {claims['iss']}")
        if API_SCOPE_NAME not in str(claims.get("scp", "")).split():
            raise TokenError("token lacks the user_impersonation scope")
        username = claims.get("preferred_username")
        if username not in USERS:
            raise TokenError("unknown user")
        return username

    # -- device codes ------------------------------------------------------------------------------
    def new_device_code(self, client_id: str) -> DeviceCode:
        code = DeviceCode(secrets.token_urlsafe(32), "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9)),
                          client_id, time.time() + DEVICE_CODE_LIFETIME_S)
        if self.auto_approve:
            code.username = self.auto_approve_user
        with self._lock:
            now = time.time()
            for stale in [c for c in self._codes.values() if c.expires < now]:  # nobody will ask for them again
                del self._codes[stale.device_code]
            self._codes[code.device_code] = code
        return code

    def approve(self, user_code: str, username: str, *, decline: bool = False) -> bool:
        user_code = user_code.strip().upper().replace("-", "")
        with self._lock:
            for code in self._codes.values():
                if code.user_code == user_code and code.expires > time.time():
                    code.username, code.declined = (None, True) if decline else (username, False)
                    return True
        return False

    def redeem(self, device_code: str) -> DeviceCode | str:
        """The approved code, or the OAuth error to answer with."""
        with self._lock:
            code = self._codes.get(device_code)
            if code is None:
                return "bad_verification_code"
            if code.expires < time.time():
                del self._codes[device_code]
                return "expired_token"
            if code.declined:
                del self._codes[device_code]
                return "authorization_declined"
            if code.username is None:
                return "authorization_pending"
            del self._codes[device_code]
            return code


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description,
                         "error_codes": [], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())},
                        status_code=status)


def _refusal(tenant: str, client_id: str | None = CLIENT_ID) -> JSONResponse | None:
    """Entra's answer to an unknown tenant or application, or None when both are ours."""
    if tenant != TENANT_ID:
        return _oauth_error("invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
    if not client_id:
        return _oauth_error("invalid_request", "AADSTS900144: The request body must contain client_id.")
    if client_id != CLIENT_ID:
        return _oauth_error("unauthorized_client", f"AADSTS700016: Application with identifier '{client_id}' "
                                                   "was not found in the directory.")
    return None


PENDING_TEXTS = {"authorization_pending": "AADSTS70016: The user has not yet approved the code.",
                 "authorization_declined": "AADSTS70000: The user declined the sign-in.",
                 "expired_token": "AADSTS70020: The device code has expired.",
                 "bad_verification_code": "AADSTS70019: The device code is unknown."}


def router(identity: Identity) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/{tenant}/v2.0/.well-known/openid-configuration")
    def discovery(tenant: str) -> Any:
        refusal = _refusal(tenant)
        if refusal is not None:
            return refusal
        base = f"{identity.base_url}/{tenant}"
        return {
            "issuer": identity.issuer,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "grant_types_supported": [DEVICE_CODE_GRANT, "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    @r.get("/{tenant}/discovery/v2.0/keys")
    def keys(tenant: str) -> Any:
        refusal = _refusal(tenant)
        return refusal if refusal is not None else {"keys": [identity.signer.jwk()]}

    @r.post("/{tenant}/oauth2/v2.0/devicecode")
    def devicecode(tenant: str, client_id: str | None = Form(None), scope: str = Form("")) -> Any:
        refusal = _refusal(tenant, client_id)
        if refusal is not None:
            return refusal
        if f"{CLIENT_ID}/{API_SCOPE_NAME}" not in scope.split():
            return _oauth_error("invalid_scope", f"The scope must include {CLIENT_ID}/{API_SCOPE_NAME}.")
        code = identity.new_device_code(client_id or CLIENT_ID)
        uri = f"{identity.base_url}/devicelogin"
        return {"device_code": code.device_code, "user_code": code.user_code, "verification_uri": uri,
                "expires_in": DEVICE_CODE_LIFETIME_S, "interval": 1,
                "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                           f"{code.user_code} to authenticate."}

    @r.post("/{tenant}/oauth2/v2.0/token")
    def token(tenant: str, grant_type: str = Form(""), client_id: str | None = Form(None),
              device_code: str | None = Form(None), refresh_token: str | None = Form(None)) -> Any:
        refusal = _refusal(tenant, client_id)
        if refusal is not None:
            return refusal
        if grant_type == DEVICE_CODE_GRANT:
            outcome = identity.redeem(device_code or "")
            if isinstance(outcome, str):
                return _oauth_error(outcome, PENDING_TEXTS[outcome])
            return identity.issue(outcome.username or "", outcome.client_id)
        if grant_type == "refresh_token":
            username = identity.store.refresh_token_user(refresh_token or "")
            if username is None:
                return _oauth_error("invalid_grant", "AADSTS70008: The refresh token is invalid or has expired; "
                                                     "sign in again.")
            return identity.issue(username, CLIENT_ID)
        if not grant_type:
            return _oauth_error("invalid_request", "AADSTS900144: The request body must contain grant_type.")
        return _oauth_error("unsupported_grant_type", f"Grant type {grant_type!r} is not supported here.")

    @r.get("/devicelogin", response_class=HTMLResponse)
    def devicelogin_page() -> str:
        options = "".join(f'<option value="{html.escape(u)}">{html.escape(u)}'
                          f'{"" if a else " (no QaaS customer)"}</option>' for u, a in USERS.items())
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox sign-in</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}input,select,button{{font-size:1.1em}}</style>
</head><body><h1>QaaS sandbox: enter code</h1>
<p>Enter the code shown by qaas-excel and choose who signs in.</p>
<form method="post" action="/devicelogin">
<p><label>Code <input name="user_code" autofocus required autocomplete="off"></label></p>
<p><label>Sign in as <select name="user">{options}</select></label></p>
<p><button name="action" value="approve">Approve</button> <button name="action" value="deny">Deny</button></p>
</form></body></html>"""

    @r.post("/devicelogin", response_class=HTMLResponse)
    def devicelogin_submit(user_code: str = Form(...), user: str = Form(DEFAULT_USER),
                           action: str = Form("approve")) -> Any:
        if user not in USERS:
            return HTMLResponse("<p>Unknown user.</p>", status_code=400)
        if not identity.approve(user_code, user, decline=action == "deny"):
            return HTMLResponse("<p>That code is unknown or has expired. Start the sign-in again.</p>",
                                status_code=400)
        verb = "declined" if action == "deny" else f"approved as {html.escape(user)}"
        return f"<!doctype html><p>Sign-in {verb}. You can close this window and return to qaas-excel.</p>"

    return r

