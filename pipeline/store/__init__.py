"""The store: ClickHouse embedded (chDB) or a server, its schema, and the read-only query door."""
