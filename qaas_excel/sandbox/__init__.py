"""A local stand-in of the QaaS service (API + Entra-style sign-in) for the demo, tests and benchmarks.

Not part of the real API surface: admin endpoints live under ``/_sandbox`` and need the
admin token written into the state directory's ``sandbox.json``.
"""

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
