"""Append-only JSON-lines files (journal, audit trail): durable appends, tolerant reads."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qaas_excel.config import private_dir
from qaas_excel.values import json_default


def append_line(path: Path, data: dict[str, Any]) -> None:
    """One record, flushed to disk before returning; the file is created readable by its owner only."""
    private_dir(path.parent)
    line = (json.dumps(data, ensure_ascii=False, default=json_default) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every whole record; a torn last line (power loss mid-write) is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                yield data
