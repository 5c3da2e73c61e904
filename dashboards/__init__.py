"""Grafana dashboards as code: the boards operations staff watch, generated from Python.

Plain JSON written by a Python script, not grafanalib or grafana-foundation-sdk: neither is
installable from the package index this project builds from, and a board is a small, stable
JSON document (Grafana's own schema). Plain dicts keep the generated files diffable, need no
dependency, and let the tests read each panel's SQL exactly as Grafana will receive it.

boards.py declares the boards and their panel SQL, macros.py expands the ClickHouse plugin's
macros and template variables the way the plugin and Grafana do (for the tests and the
preview), preview.py draws the panels to PNG without Grafana. `kanalpuls dashboards build`
writes dashboards/json/*.json, which Grafana's provisioning (deploy/grafana/) loads.
"""
