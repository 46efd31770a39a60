"""The HTTP transport shared by the API client and msal: one pooled session, TLS always verified."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from qaas_excel import __version__

USER_AGENT = f"qaas-excel/{__version__}"
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds


class VerifyingSession(requests.Session):
    """A Session that passes ``verify`` and a timeout on every request.

    requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify`` (the environment is merged
    per request and wins), which breaks a custom CA such as the sandbox's. Passing ``verify``
    per request keeps our CA bundle, and verification can never be switched off by accident.
    """

    def __init__(self, verify: str | bool = True, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 pool_size: int = 16) -> None:
        super().__init__()
        if verify is False:
            raise ValueError("TLS verification cannot be turned off.")
        # The environment is read once, not on every request (requests reads all of os.environ two or three times
        # per request, which cost a push of 600 rows more CPU than its TLS): a CA file it names for every Python
        # program (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) when no other is given, and the proxy settings (HTTPS_PROXY,
        # ALL_PROXY, NO_PROXY) once per host. No ~/.netrc either: every request carries its bearer token.
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._verify = verify
        self._timeout = timeout
        self.trust_env = False
        self._host_proxies: dict[tuple[str, str], dict[str, str]] = {}
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is False:
            raise ValueError("TLS verification cannot be turned off.")
        kwargs["verify"] = self._verify
        kwargs.setdefault("timeout", self._timeout)
        if kwargs.get("proxies") is None:
            kwargs["proxies"] = self._proxies(url if isinstance(url, str) else url.decode())
        return super().request(method, url, *args, **kwargs)

    def _proxies(self, url: str) -> dict[str, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._host_proxies.get(key)
        if found is None:
            proxy = proxy_for(url)
            found = self._host_proxies[key] = {parts.scheme: proxy} if proxy else {}
        return found


def proxy_for(url: str) -> str | None:
    """The proxy requests will use for ``url`` (HTTPS_PROXY / ALL_PROXY, unless NO_PROXY exempts the host)."""
    proxies = requests.utils.get_environ_proxies(url)
    scheme = urlsplit(url).scheme
    return proxies.get(scheme) or proxies.get("all")


def describe_proxy_error(exc: BaseException, url: str) -> str | None:
    """One line when a request failed at the proxy rather than at the service; None otherwise."""
    if not isinstance(exc, requests.exceptions.ProxyError):
        return None
    proxy = proxy_for(url)
    parts = urlsplit(proxy or "")
    shown = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "") if parts.hostname \
        else "the proxy"
    text = str(exc)
    tunnel = re.search(r"Tunnel connection failed: ([^'\")]+)", text)
    if tunnel:
        why = f"the proxy answered {tunnel.group(1).strip()}: it could not reach the host or refused to"
    elif "refused" in text.lower():
        why = "the proxy refused the connection (nothing listens there)"
    elif "timed out" in text.lower():
        why = "the proxy did not answer in time"
    else:
        why = "the proxy cannot be reached"
    return (f"No connection to {urlsplit(url).hostname} through the proxy {shown} (HTTPS_PROXY): {why}. "
            "Check HTTPS_PROXY and NO_PROXY, or ask IT for the right proxy.")
