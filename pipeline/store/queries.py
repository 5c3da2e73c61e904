"""The product's own queries, read from deploy/clickhouse/queries/*.sql beside the DDL, so an
analyst reads and reuses the same SQL the worker runs. Values always go as query parameters
({name:Type}); only the database name is filled in."""

from __future__ import annotations

from functools import cache

from pipeline.store.clickhouse import DDL_DIR

QUERY_DIR = DDL_DIR / "queries"


class UnknownQuery(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no query {name}.sql in {QUERY_DIR}: the installation is incomplete")


@cache
def _text(name: str) -> str:
    path = QUERY_DIR / f"{name}.sql"
    if not path.is_file():
        raise UnknownQuery(name)
    return path.read_text(encoding="utf-8")


def query_text(name: str, database: str) -> str:
    """The query `name` for `database`."""
    return _text(name).replace("{db}", database)
