"""Storage, by job: narrow protocols (`SubscriptionStore`, `Ledger`, `ChatMemory`), the values
they exchange, and the one backend so far (SQLite, `store.sqlite`). A second backend is one new
module implementing `store.protocols.Store`, and a branch in `open_store`."""

from __future__ import annotations

from collections.abc import Callable

from briefbot.config import Config
from briefbot.errors import StorageError
from briefbot.store.migrations import MIGRATIONS
from briefbot.store.protocols import ChatMemory, Ledger, Store, SubscriptionStore
from briefbot.store.records import Subscription
from briefbot.store.sqlite import SqliteStore

# The rest of the values (BriefingProgress, Finish, ...) are in `store.records`.
__all__ = [
    "MIGRATIONS",
    "ChatMemory",
    "Ledger",
    "SqliteStore",
    "Store",
    "Subscription",
    "SubscriptionStore",
    "open_store",
]


def open_store(config: Config, *, on_lost: Callable[[StorageError], None] | None = None) -> Store:
    """The store `config.database` names (a SQLite file; created with its folder if missing).

    Raises what `SqliteStore` raises: StorageError (damaged, read-only), RuntimeError (a newer
    briefbot's schema), OSError or sqlite3.Error (cannot be opened). `on_lost` is called once if
    the database goes away under the running process.
    """
    return SqliteStore(config.database, on_lost=on_lost)
