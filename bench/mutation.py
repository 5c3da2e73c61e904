"""Mutation testing, with mutmut, of the code whose silent breakage costs most: personal-data
masking and contact keys, the worker's dedupe, the HTTP ingest's and the worker's bearer
tokens, and the KPI calls. Not part of the test suite or CI: like the benchmarks, a figure
to read (how many small breaks the fast tests catch) and a list of the ones they let through.

Install and run from the repository root:

    .venv/bin/pip install -e '.[mutation]'
    .venv/bin/python bench/mutation.py [--only privacy,dedupe,tokens,http_auth,kpis] [--max-children 1]

Each target gets a fresh copy of the tracked files in var/mutation/<target>/, with a
[tool.mutmut] section that mutates that one file and runs only the test files named below
(mutmut runs, per mutant, just those of them that reach the mutated function, fastest
first, stopping at the first failure). Where only part of a file is the target (DedupeIndex
in pipeline/worker/aggregation.py; the token check in connectors/http_ingest.py), the copy marks the
rest `# pragma: no mutate`. The KPI definitions themselves are SQL views
(deploy/clickhouse/1xx_kpi_*.sql), which mutmut cannot mutate: pipeline/measures/kpis.py is only
the Python that names the views and quotes their arguments.

Prints killed / survived / total per target and the diff of every surviving mutant; the
mutants stay in var/mutation/<target>/mutants/ for `mutmut show NAME` or `mutmut browse`
run in that directory. The whole run takes about three and a half minutes on this machine
(2 cores, --max-children 1).
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
# mutmut 3.7 reads the test's `item._nodeid`, which pytest 9 no longer has (mutmut 3.8 reads
# `nodeid`, but needs a click that faust-streaming refuses): run its CLI with the alias put back.
LAUNCH = [sys.executable, "-c", "import sys, _pytest.nodes as nodes; "
          "nodes.Node._nodeid = property(lambda node: node.nodeid); "
          "from mutmut.__main__ import cli; sys.argv[0] = 'mutmut'; cli()"]

# Exit codes mutmut stores per mutant (mutmut/__main__.py status_by_exit_code).
KILLED, SURVIVED, NO_TESTS = {1, 3}, {0}, {5, 33}
TIMEOUT = {-24, 24, 36, 152, 255}


@dataclass(frozen=True)
class Target:
    name: str
    file: str
    tests: tuple[str, ...]
    # Top-level classes or functions to mutate, each with how many of its first body
    # statements to mutate (None: all). Empty: the whole file.
    keep: tuple[tuple[str, int | None], ...] = ()


HTTP_AUTH_TESTS = tuple(f"tests/connectors/test_http_ingest.py::{name}" for name in (
    "test_without_a_valid_token_nothing_is_written",
    "test_almost_the_token_is_refused",
    "test_a_valid_batch_is_acknowledged_after_the_broker_has_it",
    "test_the_ingest_refuses_to_start_without_a_token",
))

KPI_CALL_TESTS = tuple(f"tests/pipeline/measures/test_kpis.py::{name}" for name in (
    "test_kpi_arguments_are_checked_before_any_sql_runs",
    "test_kpi_arguments_are_named_in_the_views_order_whatever_order_they_come_in",
    "test_a_moment_is_passed_in_utc_whatever_the_machines_time_zone",
    "test_a_kpi_argument_of_another_type_is_refused",
    "test_a_wrong_kpi_or_argument_is_named_with_what_would_be_right",
    "test_run_kpi_asks_the_query_function_for_the_views_select",
    "test_a_named_baseline_becomes_the_views_base_period",
))

TARGETS = (
    Target("privacy", "pipeline/ground/privacy.py", ("tests/pipeline/ground/test_privacy.py",)),
    Target("dedupe", "pipeline/worker/aggregation.py", ("tests/pipeline/worker/test_aggregation.py",),
           keep=(("DedupeIndex", None),)),
    Target("tokens", "pipeline/ground/tokens.py", ("tests/pipeline/ground/test_tokens.py",)),
    # The token check (post_events up to its 401) and the refusal to start without a token
    # (build_http_app's docstring and first statement).
    Target("http_auth", "connectors/http_ingest.py", HTTP_AUTH_TESTS,
           keep=(("post_events", 3), ("build_http_app", 2))),
    # Only the tests of the Python around the views: the others need chDB, which hangs in the
    # processes mutmut forks from one that has opened it (each such mutant ran into its timeout).
    Target("kpis", "pipeline/measures/kpis.py", KPI_CALL_TESTS),
)


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [Path(name) for name in out.decode().split("\0") if name]


def mark_rest_unmutated(source: str, keep: tuple[tuple[str, int | None], ...]) -> str:
    """The module with everything but the kept top-level definitions (and, for a partly kept
    one, its body after the first n statements) inside `# pragma: no mutate` markers."""
    tree = ast.parse(source)
    lines = source.splitlines()
    wanted = dict(keep)
    found = {node.name for node in tree.body if getattr(node, "name", None) in wanted}
    if found != set(wanted):
        raise SystemExit(f"not found in the module: {', '.join(sorted(set(wanted) - found))}")
    inserts: dict[int, list[str]] = {}  # 0-based line index -> lines to insert before it

    def first_line(node: ast.stmt) -> int:
        decorators = getattr(node, "decorator_list", [])
        return min([node.lineno, *(d.lineno for d in decorators)]) - 1

    excluded_run_start: int | None = None
    for node in tree.body:
        name = getattr(node, "name", None)
        if name in wanted:
            if excluded_run_start is not None:
                inserts.setdefault(first_line(node), []).append("# pragma: no mutate end")
                excluded_run_start = None
            statements = wanted[name]
            body = node.body  # type: ignore[attr-defined]
            if statements is not None and statements < len(body):
                rest = body[statements]
                inserts.setdefault(first_line(rest), []).append(" " * rest.col_offset + "# pragma: no mutate block")
        elif excluded_run_start is None:
            excluded_run_start = first_line(node)
            inserts.setdefault(excluded_run_start, []).append("# pragma: no mutate start")
    out: list[str] = []
    for index, line in enumerate(lines):
        out.extend(inserts.get(index, []))
        out.append(line)
    if excluded_run_start is not None:
        # An end marker must lead a statement of the same block (one in the file's footer is
        # read after the function bodies, whose own markers would then clash with it).
        out += ["# pragma: no mutate end", "_mutation_marker_end = None  # pragma: no mutate"]
    return "\n".join(out) + "\n"


def prepare(target: Target) -> Path:
    work = WORK / target.name
    shutil.rmtree(work, ignore_errors=True)
    for relative in tracked_files():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, work / relative)
    mutated = work / target.file
    if target.keep:
        mutated.write_text(mark_rest_unmutated(mutated.read_text(encoding="utf-8"), target.keep), encoding="utf-8")
    package = target.file.split("/")[0]
    others = sorted({p.parts[0] for p in tracked_files() if len(p.parts) > 1} - {package, "tests"})
    config = "\n".join([
        "", "[tool.mutmut]",
        f'source_paths = ["{package}"]',
        f'only_mutate = ["{target.file}"]',
        f"also_copy = {json.dumps([*others, *(p.name for p in tracked_files() if len(p.parts) == 1)])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
        "",
    ])
    with open(work / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write(config)
    return work


def results(work: Path, target: Target) -> dict[str, int | None]:
    meta = work / "mutants" / f"{target.file}.meta"
    if not meta.exists():
        return {}
    return json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]


def show(work: Path, mutant: str) -> str:
    done = subprocess.run([*LAUNCH, "show", mutant], cwd=work, capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated targets: " + ", ".join(t.name for t in TARGETS))
    parser.add_argument("--max-children", type=int, default=1,
                        help="mutants tested in parallel (default 1: leaves a core to whoever else works here)")
    args = parser.parse_args()
    if not MUTMUT.exists():
        print(f"mutmut is not installed in {MUTMUT.parent}: run  .venv/bin/pip install -e '.[mutation]'")
        return 2
    chosen = [t for t in TARGETS if not args.only or t.name in args.only.split(",")]
    scores: list[tuple[Target, dict[str, int | None], float]] = []
    for target in chosen:
        work = prepare(target)
        print(f"== {target.name}: mutating {target.file}, tests {' '.join(target.tests)}", flush=True)
        started = time.monotonic()
        run = subprocess.run([*LAUNCH, "run", "--max-children", str(args.max_children)], cwd=work,
                             capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        if run.returncode != 0:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
            print(f"mutmut failed on {target.name} (exit {run.returncode}); its work is in {work}")
            return 1
        found = results(work, target)
        scores.append((target, found, elapsed))
        survivors = sorted(name for name, code in found.items() if code not in KILLED | TIMEOUT)
        for name in survivors:
            print(f"\n-- {name} (exit code {found[name]}: {'survived' if found[name] in SURVIVED else 'not killed'})")
            print(show(work, name))
    print("\nmutation score: caught / total, where caught is killed (a test failed) or timed out (the"
          " tests hung, so they never pass); survived and no-tests (no selected test reaches it) are not")
    print(f"{'target':<10} {'file':<26} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} {'total':>5}"
          f" {'score':>6} {'seconds':>7}")
    for target, found, elapsed in scores:
        codes = list(found.values())
        killed, timeout = sum(c in KILLED for c in codes), sum(c in TIMEOUT for c in codes)
        print(f"{target.name:<10} {target.file:<26} {killed:>6} {timeout:>7} {sum(c in SURVIVED for c in codes):>8} "
              f"{sum(c in NO_TESTS for c in codes):>8} {len(codes):>5} "
              f"{(killed + timeout) / len(codes) if codes else float('nan'):>6.0%} {elapsed:>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
