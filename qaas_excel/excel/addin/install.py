"""Put the add-in where Excel loads it at start, and point the xlwings add-in at this Python.

The QaaS ribbon calls ``RunPython`` of the standard xlwings add-in, so installing means three
things: ``xlwings addin install`` (xlwings.xlam into the startup folder; on macOS also the
AppleScript RunPython needs), ``qaas_excel.xlam`` next to it, and the interpreter entry in the
user config file that the xlwings add-in reads (as ``xlwings addin install`` writes it, but
always for this Python, since qaas_excel is installed here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qaas_excel.config import ConfigError
from qaas_excel.excel.addin.build import XLAM_NAME, build_addin

UDF_MODULE = "qaas_excel.excel.udfs"


def startup_folder() -> Path:
    """Excel's per-user startup folder: every add-in there is loaded when Excel starts."""
    if sys.platform == "win32":
        return Path(os.environ["APPDATA"]) / "Microsoft" / "Excel" / "XLSTART"
    if sys.platform == "darwin":
        return (Path.home() / "Library" / "Group Containers" / "UBF8T346G9.Office" / "User Content.localized"
                / "Startup.localized" / "Excel")
    raise ConfigError(f"Excel is not available on {'Linux' if sys.platform.startswith('linux') else sys.platform}: "
                      "the add-in can only be installed on Windows or macOS. Here, use the command line "
                      "(qaas-excel validate / push / pull / reconcile).")


def user_config_file() -> Path:
    """The file the xlwings add-in reads its settings from (macOS: inside Excel's sandbox)."""
    import xlwings

    return Path(xlwings.USER_CONFIG_FILE)


def interpreter_settings() -> tuple[dict[str, str], set[str]]:
    """(entries to set, entries to drop) so RunPython starts this Python, as ``xlwings config create`` would:
    a conda environment on Windows by name (its DLLs need activation), otherwise the executable's path."""
    conda_env, conda_exe = os.environ.get("CONDA_DEFAULT_ENV"), os.environ.get("CONDA_EXE")
    if sys.platform == "win32" and conda_env and conda_exe:
        return {"CONDA PATH": str(Path(conda_exe).parent.parent), "CONDA ENV": conda_env}, {"INTERPRETER_WIN"}
    key = "INTERPRETER_MAC" if sys.platform == "darwin" else "INTERPRETER_WIN"
    return {key: sys.executable}, {"CONDA PATH", "CONDA ENV"}


def configure_interpreter(conf: Path | None = None) -> Path:
    """Write this Python and our worksheet-function module into xlwings' user config; other entries stay."""
    conf = conf or user_config_file()
    entries: dict[str, str] = {}
    if conf.exists():
        for line in conf.read_text(encoding="utf-8").splitlines():
            fields = [f.strip().strip('"') for f in line.split('","', 1)]
            if len(fields) == 2 and fields[0]:
                entries[fields[0]] = fields[1]
    updates, drops = interpreter_settings()
    for key in drops:
        entries.pop(key, None)
    entries.update(updates)
    modules = [m for m in entries.get("UDF MODULES", "").split(";") if m]
    entries["UDF MODULES"] = ";".join([*modules, UDF_MODULE] if UDF_MODULE not in modules else modules)
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("".join(f'"{key}","{value}"\n' for key, value in entries.items()), encoding="utf-8")
    return conf


def install() -> list[str]:
    """Install both add-ins and configure the interpreter; returns what was done, one line each."""
    folder = startup_folder()
    done = []
    result = subprocess.run([sys.executable, "-m", "xlwings", "addin", "install"], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"`xlwings addin install` failed: {result.stderr.strip() or result.stdout.strip()}")
    done.append("installed the xlwings add-in (RunPython, worksheet functions)")
    target = build_addin(folder)
    done.append(f"installed {XLAM_NAME} into {target.parent}")
    conf = configure_interpreter()
    done.append(f"configured {conf} for this Python ({sys.executable}) and the worksheet functions of {UDF_MODULE}")
    return done
