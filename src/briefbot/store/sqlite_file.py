"""The file under a SQLite store: writable before opening, intact once open, and still the same
file (not deleted or replaced) before every write. Each fault is a `StorageError` that names the
file and the fix, instead of a SIGBUS, a traceback mid-broadcast or writes into a ghost."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from briefbot.errors import StorageError

log = logging.getLogger(__name__)


class DatabaseFile:
    """Guards one database file; `path` None is an in-memory database, which has no file."""

    def __init__(self, path: Path | None, on_lost: Callable[[StorageError], None] | None) -> None:
        """`on_lost` is called once, the first time the file is found deleted or replaced."""
        self.path = path
        self.lost: StorageError | None = None
        self._on_lost = on_lost
        self._identity: tuple[int, int] | None = None

    def check_writable(self) -> None:
        """The database and its -wal and -shm files must be writable: SQLite maps the -shm file
        into memory, and a read-only one kills the process with SIGBUS instead of raising."""
        path = self.path
        if path is None:
            return
        for candidate in (path, path.with_name(path.name + "-wal"),
                          path.with_name(path.name + "-shm")):
            if candidate.exists() and not os.access(candidate, os.W_OK):
                raise StorageError(
                    f"database: {candidate} is read-only; make it writable by the user briefbot "
                    f"runs as (chown or chmod), or, with briefbot stopped, remove the -wal/-shm "
                    "file"
                )
        if not os.access(path.parent, os.W_OK):
            raise StorageError(
                f"database: the folder {path.parent} is read-only; SQLite needs to create its "
                "-wal and -shm files there; point `database:` at a writable folder"
            )

    def opened(self, db: sqlite3.Connection) -> None:
        """Call once `db` has created the file: it is the one to keep writing to, and it must be
        intact (fail now, naming the file and the fix)."""
        self._identity = self._file_identity()
        if self.path is None:
            return
        problems = [str(row[0]) for row in db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise self.damaged("; ".join(problems))

    def damaged(self, detail: str) -> StorageError:
        """The error for a damaged file, with how to recover it (`path` must be set)."""
        path = self.path
        assert path is not None
        return StorageError(
            f"database: {path} is damaged ({detail}). Stop briefbot and keep a copy of the file; "
            f"then restore your latest backup, or recover what SQLite can with "
            f"`sqlite3 {path} .recover | sqlite3 {path}.recovered` and put {path.name}.recovered "
            "in its place"
        )

    def check_same_file(self) -> None:
        """Before a write: writes into a deleted (or replaced) file would vanish; refuse them,
        loudly, now and every time after."""
        if self.lost is not None:
            raise self.lost
        if self.path is None or self._file_identity() == self._identity:
            return
        self.lost = StorageError(
            f"database: {self.path} was deleted or replaced while briefbot was running; "
            "briefbot stopped writing so that no subscription change is silently lost. Restore "
            "the file (from a backup, or move the new one aside) and start briefbot again"
        )
        log.error("%s", self.lost)
        if self._on_lost is not None:
            self._on_lost(self.lost)
        raise self.lost

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (found.st_dev, found.st_ino)
