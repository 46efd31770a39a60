"""What a program using qaas-excel does once, first: trust the operating system's certificate store.

Called only by entry points (the ``qaas-excel`` command, the Python that Excel starts for the ribbon and
for the worksheet functions), never by the library: injecting changes ``ssl`` for the whole process.
With it, a TLS-inspecting proxy whose root certificate IT installed on the machine just works; a CA
file an environment names (``ca_bundle``, the sandbox's, ``REQUESTS_CA_BUNDLE``) is still loaded on top.
"""

from __future__ import annotations

import logging
import ssl

log = logging.getLogger(__name__)


def use_os_trust_store() -> bool:
    """Verify TLS with the OS trust store (truststore); True when it is in effect. Safe to call twice."""
    if os_trust_store_in_effect():
        return True
    try:
        import truststore
    except ImportError:  # not installed with this Python: requests' own bundle stays in use
        log.debug("truststore is not installed; using the certifi bundle")
        return False
    truststore.inject_into_ssl()
    return True


def os_trust_store_in_effect() -> bool:
    return ssl.SSLContext.__module__.startswith("truststore")
