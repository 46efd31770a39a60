"""The Office add-in (Office.js) and its local companion, ``qaas-excel serve``.

The add-in runs in Excel on Windows, macOS and the web; every button and worksheet function calls the
companion on ``https://localhost:PORT``, which holds the sign-in and calls the same library functions as
the command line and the VBA ribbon. Its web stack is the optional ``qaas-excel[office]`` extra; this
module imports none of it, so the command line can say how to install it instead of failing.
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = 'pip install "qaas-excel[office]"'
REQUIRED_MODULES: tuple[str, ...] = ("fastapi", "uvicorn")

HOST = "127.0.0.1"  # loopback only, always
DEFAULT_PORT = 44355  # in the manifest, so fixed per install (``addin install --office --port``)
ADDIN_ID = "6f0b0d3e-4f0e-4c55-9a8e-2d1c9a7e5b41"  # the manifest's <Id>: stable, so an update replaces the add-in
NAMESPACE = "QAAS"  # worksheet functions are QAAS.STATUS(...) in the Office add-in (Office prefixes a namespace)


def missing_modules() -> list[str]:
    return [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
