"""The streaming side of kanalpuls: broker, Faust worker, ClickHouse store, CLI."""
