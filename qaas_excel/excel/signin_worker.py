"""Background half of the ribbon's sign-in: waits for the device-code approval outside Excel.

Run as ``python -m qaas_excel.excel.signin_worker FLOW_FILE RESULT_FILE``; the flow file
(written by the macro, mode 600) is deleted as soon as it is read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qaas_excel.api.auth import MsalSignIn
from qaas_excel.api.errors import QaasError
from qaas_excel.config import get_environment
from qaas_excel.config_files import ConfigError, write_private_text


def main(flow_file: Path, result_file: Path) -> int:
    data = json.loads(flow_file.read_text(encoding="utf-8"))
    flow_file.unlink(missing_ok=True)
    try:
        signin = MsalSignIn(get_environment(data["env"]), account=data.get("account"))
        user = signin.finish_login(data["flow"])
        result = {"ok": True, "user": user, "env": data["env"]}
    except (QaasError, ConfigError) as exc:
        result = {"ok": False, "error": str(exc), "env": data["env"]}
    write_private_text(result_file, json.dumps(result))
    return 0 if result["ok"] else 3


if __name__ == "__main__":
    from qaas_excel.startup import use_os_trust_store

    use_os_trust_store()  # a program of its own: trust the OS certificate store, as the ribbon's Python does
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
