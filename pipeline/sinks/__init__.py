"""Where events and what is made of them are written: the Kafka producer sources send to,
and the ClickHouse writers of the worker."""
