"""Opening the store the settings name, wherever it runs."""

from __future__ import annotations

from pipeline.ground.settings import StoreSettings
from pipeline.store.clickhouse import EmbeddedStore, ServerStore
from pipeline.store.server import RemoteEmbeddedStore, token_directory


def open_store(settings: StoreSettings) -> EmbeddedStore | ServerStore:
    """The store settings name: a ClickHouse server, `kanalpuls store serve`, or chDB here."""
    if settings.url and settings.url.startswith("kanalpuls://"):
        return RemoteEmbeddedStore(settings.url, settings.database, token_directory(settings.path))  # type: ignore[return-value]
    if settings.url:
        return ServerStore(settings)
    return EmbeddedStore(settings.path, settings.database)
