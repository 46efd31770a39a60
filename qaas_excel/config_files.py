"""What ``config`` and ``contract`` both stand on: the error a setting raises, and files only their owner reads.

Kept below both so neither imports the other for them (``config`` reads contracts; ``contract`` rewrites
a config file's contract tables).
"""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(Exception):
    """The configuration or an environment definition cannot be used."""


def private_dir(path: Path) -> Path:
    """Create a folder (and missing parents) readable by its owner only; tighten one we made earlier."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace a small file atomically, readable by its owner only (never briefly readable by others)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
