"""This repository's own invoke entry: the xla-tasks collection plus dev tasks.

`invoke --list` here shows both; `invoke test`, `invoke lint`, `invoke bench` are for us.
"""

from __future__ import annotations

from invoke import Collection, task

import xla_tasks


@task(name="test")
def run_tests(c, jobs=2):  # type: ignore[no-untyped-def]
    """Run the test suite (the same command as CI)."""
    c.run(f"python3 -m pytest -n {jobs}", pty=False)


@task
def lint(c):  # type: ignore[no-untyped-def]
    """ruff check and format check."""
    c.run("ruff check . && ruff format --check .")


@task
def bench(c):  # type: ignore[no-untyped-def]
    """Time xla-tasks against plain git and peer tools on local repos."""
    c.run("python3 bench/bench.py")


ns = Collection.from_module(xla_tasks)
ns.add_task(run_tests)
ns.add_task(lint)
ns.add_task(bench)
