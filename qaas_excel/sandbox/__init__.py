"""A local stand-in of the QaaS service (API + Entra-style sign-in) for the demo, tests and benchmarks.

Not part of the real API surface: admin endpoints live under ``/_sandbox`` and need the
admin token written into the state directory's ``sandbox.json``.

Its web stack is the optional ``qaas-excel[sandbox]`` extra; this module imports none of it, so
the command line can say how to install it instead of failing with a traceback.
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = 'pip install "qaas-excel[sandbox]"'
# what the extra installs, by import name (python-multipart is ``python_multipart``, ``multipart`` before 0.0.13)
REQUIRED_MODULES: tuple[tuple[str, ...], ...] = (("fastapi",), ("uvicorn",), ("python_multipart", "multipart"),
                                                  ("trustme",))

HOST = "127.0.0.1"  # loopback only, always: the sandbox is never reachable from another machine

DEFAULT_USER = "demo@qaas-sandbox.test"  # customer account "Demo GmbH"
COLLEAGUE_USER = "kollegin@qaas-sandbox.test"  # same account as DEFAULT_USER
TEST_ACCOUNT_USER = "test@qaas-sandbox.test"  # a second account: the FAQ's free test environment
OUTSIDER_USER = "outsider@qaas-sandbox.test"  # signs in, but is no customer: 403 everywhere

# user -> account (None: not a customer)
USERS: dict[str, str | None] = {
    DEFAULT_USER: "demo-gmbh",
    COLLEAGUE_USER: "demo-gmbh",
    TEST_ACCOUNT_USER: "demo-gmbh-test",
    OUTSIDER_USER: None,
}


def missing_modules() -> list[str]:
    """The extra's modules that cannot be imported here (empty when the sandbox can run)."""
    return [names[0] for names in REQUIRED_MODULES if not any(_importable(n) for n in names)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules, or without a spec
        return False
