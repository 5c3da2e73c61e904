"""Analysts' SQL, read-only: the one door through which text from a person reaches ClickHouse.

`kanalpuls query`, the KPI and report commands and the worker's `/store/query` endpoint all
run their SQL through `read_only_query`. Appending `SETTINGS readonly = 1` to the text was
not enough (a trailing `--` commented it out, chDB runs stacked statements, and `file()`
as a scalar function reads host files even in readonly mode), so the statement is judged by
ClickHouse's own parser, not by patterns:

1. `formatQuerySingleLine` parses it (the SQL travels as a query parameter, never inline):
   exactly one statement, comments gone, `WITH … INSERT` shown as the INSERT it is;
2. `EXPLAIN AST` of that one statement is walked: only SELECT / SHOW TABLES / DESCRIBE;
   no SETTINGS, INTO OUTFILE or FORMAT clause; tables only from the kanalpuls database (and
   a few system catalogue tables); table functions only the pure generators (numbers, …) and
   the kanalpuls parameterised views; no function that reads files, URLs or other servers;
3. it runs with `readonly = 1`, a time limit and a result-size limit, which a ClickHouse
   server receives as request settings (enforced by the server, not written into the text)
   and chDB after the formatted statement, which holds no comment or SETTINGS clause of its
   own to undo them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.store.clickhouse import QueryResult, StoreQueryError

MAX_SQL_CHARACTERS = 100_000
# What the query runs under. readonly comes last: once it is 1, no later setting may change.
LIMITS: dict[str, int | str] = {
    "max_execution_time": 30,
    "max_result_rows": 1_000_000,
    "max_result_bytes": 256 * 1024 * 1024,
    "result_overflow_mode": "throw",
    "max_memory_usage": 2 * 1024**3,  # a query may not take the worker's memory (4.5 GB was seen)
    "allow_introspection_functions": 0,
    "readonly": 1,
}
# What each statement may hold directly: anything more is an INTO OUTFILE, FORMAT or SETTINGS
# clause (a DESCRIBE ... INTO OUTFILE wrote a .pth file into site-packages: code execution).
ROOTS = {"SelectWithUnionQuery": ("ExpressionList",), "ShowTables": ("Identifier",), "DescribeQuery": ("TableExpression",)}
_IN_FUNCTIONS = frozenset({"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
                           "globalnotnullin"})
_NODE_LINE = re.compile(r"^ *[A-Z][A-Za-z]*( |$)")
# Table functions that only generate numbers or read the literal data they are given.
GENERATORS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "generateseries", "generate_series", "values",
                        "null"})
SYSTEM_CATALOGUE = frozenset({"one", "numbers", "numbers_mt", "zeros", "tables", "columns", "parts", "databases"})
# Functions that reach outside the database wherever they stand (several are also table
# functions, refused there by GENERATORS already): files, URLs, other servers, processes, models.
OUTSIDE = frozenset({
    "file", "filecluster", "url", "urlcluster", "remote", "remotesecure", "cluster", "clusterallreplicas", "s3",
    "s3cluster", "gcs", "oss", "cosn", "azureblobstorage", "azureblobstoragecluster", "hdfs", "hdfscluster", "hive",
    "input", "jdbc", "odbc", "mysql", "postgresql", "sqlite", "mongodb", "redis", "executable", "dictionary",
    "merge", "iceberg", "icebergs3", "icebergazure", "iceberghdfs", "icebergcluster", "deltalake", "hudi", "paimon",
    "catboostevaluate", "naivebayesclassifier", "getclienthttpheader", "arrowflight", "ytsaurus",
    "filesystemavailable", "filesystemcapacity", "filesystemunreserved", "loop", "viewifpermitted",
    "joinget", "joingetornull", "getserversetting", "getmacro",
})
_OUTSIDE_PREFIXES = ("dictget", "dicthas", "dictisin", "dictgetall")  # dictionaries may have external sources


class QueryRefused(StoreQueryError):
    """Terminal: the statement is not one read-only query on the kanalpuls database; the
    message says what to change."""


class _Store(Protocol):
    database: str

    def query(self, sql: str, parameters: dict[str, object] | None = None,
              settings: dict[str, int | str] | None = None) -> QueryResult: ...


@dataclass
class _Node:
    kind: str
    name: str
    parent: _Node | None
    children: list[_Node] = field(default_factory=list)


def _tree(explained: list[str]) -> _Node:
    """EXPLAIN AST's indented lines as a tree (one space of indent per level)."""
    root = _Node("(statement)", "", None)
    stack = [(-1, root)]
    for line in explained:
        depth = len(line) - len(line.lstrip(" "))
        words = line.strip().split(" ")
        name = words[1] if len(words) > 1 and not words[1].startswith("(") else ""
        while stack[-1][0] >= depth:
            stack.pop()
        node = _Node(words[0], name, stack[-1][1])
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root


def _walk(node: _Node) -> list[_Node]:
    found, todo = [], [node]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(current.children)
    return found


def judge(explained: list[str], database: str) -> None:
    """Raise QueryRefused unless EXPLAIN AST's lines describe a read-only query on `database`."""
    if not all(_NODE_LINE.match(line) for line in explained):
        raise QueryRefused("a name in the statement holds a line break or control character; rename it")
    top = _tree(explained).children
    if len(top) != 1 or top[0].kind not in ROOTS:
        kind = top[0].kind if top else "nothing"
        raise QueryRefused(f"only SELECT, SHOW TABLES and DESCRIBE are answered here, not {kind}; to change "
                           "the store, use `kanalpuls store init` or stop the worker and use ClickHouse itself")
    root = top[0]
    allowed = ROOTS[root.kind]
    if len(root.children) > len(allowed) or any(child.kind != kind for child, kind in zip(root.children, allowed)):
        raise QueryRefused("INTO OUTFILE, FORMAT and SETTINGS clauses are not answered here: leave them out "
                           "(the command formats the result)")
    if root.kind == "SelectWithUnionQuery" and not root.children:
        raise QueryRefused("an empty statement")
    for node in _walk(root):
        if node.kind == "Set":
            raise QueryRefused("a SETTINGS clause is not answered here: queries run with fixed limits")
        if node.kind == "Function":
            _judge_function(node, database)
        elif node.kind == "TableIdentifier":
            _judge_table(node.name, database)
        elif node.kind == "Identifier" and node.parent is root and root.kind == "ShowTables":
            if node.name.strip("`") != database:
                raise QueryRefused(f"only the {database} database is answered here")


def _judge_function(node: _Node, database: str) -> None:
    name = node.name.strip("`")
    if node.parent is not None and node.parent.kind == "TableExpression":
        if name.lower() in GENERATORS or (name.startswith(f"{database}.") and name.count(".") == 1):
            return
        raise QueryRefused(f"table function {name}() is not answered here: read the {database} tables and views "
                           "(numbers(), zeros() and values() may generate rows)")
    if name.lower() in OUTSIDE or name.lower().startswith(_OUTSIDE_PREFIXES):
        raise QueryRefused(f"function {name}() reaches outside the database and is not answered here")
    if name.lower() in _IN_FUNCTIONS:  # `x IN db.table`: the right side names a table
        arguments = node.children[0].children if node.children else []
        if len(arguments) == 2 and arguments[1].kind == "Identifier":
            _judge_table(arguments[1].name, database)


def _judge_table(name: str, database: str) -> None:
    name = name.replace("`", "")
    if "." not in name:
        return  # a WITH name, or the current database, which holds nothing of anyone's
    schema, table = name.split(".", 1)
    if schema == database or (schema == "system" and table in SYSTEM_CATALOGUE):
        return
    raise QueryRefused(f"table {name} is outside the {database} database and is not answered here")


def checked_statement(store: _Store, sql: str) -> str:
    """The statement as ClickHouse formats it, once judged read-only; QueryRefused otherwise."""
    if not sql.strip():
        raise QueryRefused("no SQL given")
    if len(sql) > MAX_SQL_CHARACTERS:
        raise QueryRefused(f"the SQL is {len(sql):,} characters long; at most {MAX_SQL_CHARACTERS:,} are answered")
    if "\x00" in sql:
        raise QueryRefused("the SQL holds a NUL character")
    try:
        formatted = store.query("SELECT formatQuerySingleLine({sql:String})", parameters={"sql": sql}).scalar()
    except StoreQueryError as exc:
        message = re.sub(r":? ?In scope SELECT formatQuerySingleLine\(.*$", "", str(exc), flags=re.S)
        raise QueryRefused(f"not one statement ClickHouse can parse: {message}") from None
    try:
        explained = store.query(f"EXPLAIN AST {formatted}")
    except StoreQueryError as exc:
        raise QueryRefused(f"ClickHouse cannot explain the statement: {exc}") from None
    judge([str(row[0]) for row in explained.rows], store.database)
    return str(formatted)


def read_only_query(store: _Store, sql: str) -> QueryResult:
    """Run `sql` if it is one read-only query on the kanalpuls database, under LIMITS."""
    return store.query(checked_statement(store, sql), settings=LIMITS)
