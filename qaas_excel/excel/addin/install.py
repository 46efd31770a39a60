"""Put the add-in where Excel loads it at start, and point xlwings at this Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qaas_excel.config import ConfigError
from qaas_excel.excel.addin.build import XLAM_NAME, build_addin


def startup_folder() -> Path:
    """Excel's per-user startup folder: every add-in there is loaded when Excel starts."""
    if sys.platform == "win32":
        return Path(os.environ["APPDATA"]) / "Microsoft" / "Excel" / "XLSTART"
    if sys.platform == "darwin":
        return (Path.home() / "Library" / "Group Containers" / "UBF8T346G9.Office" / "User Content.localized"
                / "Startup.localized" / "Excel")
    raise ConfigError("Excel add-ins can only be installed on Windows or macOS; on this system use the "
                      "command line (qaas-excel validate/push/pull/reconcile).")


def configure_interpreter(conf: Path | None = None) -> Path:
    """xlwings reads the interpreter for RunPython and UDFs from ~/.xlwings/xlwings.conf."""
    conf = conf or Path.home() / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    key = "INTERPRETER_WIN" if sys.platform == "win32" else "INTERPRETER_MAC"
    lines = [line for line in (conf.read_text(encoding="utf-8").splitlines() if conf.exists() else [])
             if not line.startswith((f'"{key}"', '"UDF MODULES"'))]
    lines += [f'"{key}","{sys.executable}"', '"UDF MODULES","qaas_excel.excel.udfs"']
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


def install() -> list[str]:
    folder = startup_folder()
    done = []
    result = subprocess.run([sys.executable, "-m", "xlwings", "addin", "install"], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"`xlwings addin install` failed: {result.stderr.strip() or result.stdout.strip()}")
    done.append("installed the xlwings add-in (RunPython, worksheet functions)")
    target = build_addin(folder)
    done.append(f"installed {XLAM_NAME} into {target.parent}")
    done.append(f"configured the interpreter in {configure_interpreter()}")
    return done
