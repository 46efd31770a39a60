"""Put the add-in where Excel loads it at start, and point the xlwings add-in at this Python.

The QaaS ribbon calls ``RunPython`` of the standard xlwings add-in, so installing means three
things: ``xlwings addin install`` (xlwings.xlam into the startup folder; on macOS also the
AppleScript RunPython needs), ``qaas_excel.xlam`` next to it (in the startup folder Excel itself
reports, asked as xlwings asks it), and the interpreter entry in the
user config file that the xlwings add-in reads (as ``xlwings addin install`` writes it, but
always for this Python, since qaas_excel is installed here).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from qaas_excel.config_files import ConfigError
from qaas_excel.excel.addin.build import XLAM_NAME, build_addin


def _require_excel_platform() -> None:
    if sys.platform not in ("win32", "darwin"):
        raise ConfigError(f"Excel is not available on {'Linux' if sys.platform.startswith('linux') else sys.platform}: "
                          "the add-in can only be installed on Windows or macOS. Here, use the command line "
                          "(qaas-excel validate / push / pull / reconcile).")


def startup_folder() -> Path:
    """The per-user startup folder as Excel reports it (``Application.StartupPath``; every add-in there loads
    when Excel starts), asked the way ``xlwings addin install`` asks: a running Excel, else one started unseen."""
    _require_excel_platform()
    import xlwings as xw

    if xw.apps:
        active = xw.apps.active
        assert active is not None  # Excel runs: one of its instances is the active one
        return Path(active.startup_path)
    with xw.App(visible=False) as app:
        return Path(app.startup_path)


def _close_open_copies() -> None:
    """A running Excel keeps the installed add-in open (locked on Windows): close it, as xlwings does for its own."""
    import xlwings as xw

    for app in xw.apps if xw.apps else ():
        with contextlib.suppress(KeyError):
            app.books[XLAM_NAME].close()


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
    """Write this Python into xlwings' user config; other entries stay. (No ``UDF MODULES`` entry: our worksheet
    functions are VBA stubs inside qaas_excel.xlam, and that entry only feeds xlwings' Import Functions button.)"""
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
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("".join(f'"{key}","{value}"\n' for key, value in entries.items()), encoding="utf-8")
    return conf


def install() -> list[str]:
    """Install both add-ins and configure the interpreter; returns what was done, one line each."""
    _require_excel_platform()
    done = []
    result = subprocess.run([sys.executable, "-m", "xlwings", "addin", "install"], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"`xlwings addin install` failed: {result.stderr.strip() or result.stdout.strip()}")
    done.append("installed the xlwings add-in (RunPython; on Windows also the worksheet functions' server)")
    folder = startup_folder()
    _close_open_copies()
    try:
        target = build_addin(folder)
    except PermissionError as exc:
        raise ConfigError(f"Could not write {folder / XLAM_NAME} ({exc.strerror}): quit Excel and run "
                          "`qaas-excel addin install` again.") from exc
    done.append(f"installed {XLAM_NAME} into {target.parent}")
    conf = configure_interpreter()
    done.append(f"configured {conf} for this Python ({sys.executable})")
    return done
