"""The sandbox's persistence: records per account, refresh tokens and its signing key, in SQLite.

Records are stored as JSON in the wire format (decimals as exact decimal strings), so an amount
is never a float. One connection behind a lock; WAL so a reader elsewhere never blocks it.
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from qaas_excel.config_files import private_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    resource TEXT NOT NULL, id INTEGER NOT NULL, account TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (resource, id)
);
CREATE INDEX IF NOT EXISTS records_account ON records (resource, account);
CREATE INDEX IF NOT EXISTS records_reference ON records (resource, account, json_extract(data, '$.customer_reference'));
CREATE TABLE IF NOT EXISTS refresh_tokens (token TEXT PRIMARY KEY, username TEXT NOT NULL, expires REAL NOT NULL);
"""
FIRST_ID = {"operator": 335, "chargepoint": 10001}


class Store:
    """Thread-safe; every write is committed at once."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        # Refresh tokens live here: the file is created owner-only, and SQLite gives its -wal/-shm the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta --------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- records -----------------------------------------------------------------------------------
    def list(self, resource: str, account: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.list_texts(resource, account)]

    def list_texts(self, resource: str, account: str | None = None) -> builtins.list[str]:  # list: the method above
        """The records (of one account, or every account's) as stored: each its JSON text, in the order of their
        ids."""
        with self._lock:
            if account is None:
                rows = self._db.execute("SELECT data FROM records WHERE resource = ? ORDER BY id",
                                        (resource,)).fetchall()
            else:
                rows = self._db.execute("SELECT data FROM records WHERE resource = ? AND account = ? ORDER BY id",
                                        (resource, account)).fetchall()
        return [r[0] for r in rows]

    def list_with_accounts(self, resource: str) -> builtins.list[tuple[str, dict[str, Any]]]:  # list: the method above
        with self._lock:
            rows = self._db.execute("SELECT account, data FROM records WHERE resource = ? ORDER BY id",
                                    (resource,)).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def reference_taken(self, resource: str, account: str, reference: str, except_id: int | None = None) -> bool:
        """Is the reference used by another record of the account? (an index lookup, not a scan)"""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM records WHERE resource = ? AND account = ? "
                "AND json_extract(data, '$.customer_reference') = ? AND id != ? LIMIT 1",
                (resource, account, reference, except_id if except_id is not None else -1)).fetchone()
        return row is not None

    def get(self, resource: str, record_id: int, account: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data, account FROM records WHERE resource = ? AND id = ?",
                                   (resource, record_id)).fetchone()
        if row is None or (account is not None and row[1] != account):
            return None
        return json.loads(row[0])

    def insert(self, resource: str, account: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store a new record under the next id (ids are never reused, even after a delete)."""
        key = f"next_id.{resource}"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the id is read and taken in one transaction
            try:
                row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                next_id = int(row[0]) if row else FIRST_ID[resource]
                data = {"id": next_id, **data}
                self._db.execute("INSERT INTO records (resource, id, account, data) VALUES (?, ?, ?, ?)",
                                 (resource, next_id, account, _json(data)))
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(next_id + 1)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return data

    def replace(self, resource: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("UPDATE records SET data = ? WHERE resource = ? AND id = ?",
                             (_json(data), resource, data["id"]))

    def delete(self, resource: str, record_id: int) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM records WHERE resource = ? AND id = ?", (resource, record_id))
        return cur.rowcount > 0

    def account_of(self, resource: str, record_id: int) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT account FROM records WHERE resource = ? AND id = ?",
                                   (resource, record_id)).fetchone()
        return row[0] if row else None

    def reset(self) -> None:
        """Forget every record. Ids go on counting (an old workbook's ids must not name new records), and the
        key and refresh tokens stay, so signed-in clients keep working."""
        with self._lock:
            self._db.execute("DELETE FROM records")

    # -- refresh tokens ----------------------------------------------------------------------------
    def add_refresh_token(self, token: str, username: str, lifetime_s: float) -> None:
        with self._lock:
            self._db.execute("INSERT INTO refresh_tokens (token, username, expires) VALUES (?, ?, ?)",
                             (token, username, time.time() + lifetime_s))

    def refresh_token_user(self, token: str) -> str | None:
        """The user of a valid refresh token; None if unknown or expired.

        Like Entra, a used refresh token is not revoked: the caller gets a new one (90 days from
        now), and two processes sharing one token cache can refresh at the same time.
        """
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM refresh_tokens WHERE expires < ?", (now,))
            row = self._db.execute("SELECT username FROM refresh_tokens WHERE token = ?", (token,)).fetchone()
        return row[0] if row else None


def _json(data: dict[str, Any]) -> str:
    """A record as stored: JSON as the API answers it (no NaN, which is no JSON), without blanks between items."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)
