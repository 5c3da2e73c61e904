"""Reports made from the stored data, for people outside the pipeline: the KOMHEN counting-week
table a municipality hands in to KL (`komhen.py`, `workbook.py`) and the channel-strategy
report for strategy staff (`strategy.py`, drawn by `charts.py`).

They sit at the end of the dataflow and read ClickHouse only through the SQL views in
deploy/clickhouse/ (the KPI views and 120_komhen_week.sql), so a number in a report is the
number an analyst gets from the same view. `kanalpuls report komhen|strategy` runs them.
"""
