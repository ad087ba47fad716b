"""Faults and hostile input (issue 9, contract 5.8): secrets, interrupts, bad settings.

Each test drives the real program (in-process through `cli`, or as a subprocess when a
real signal is needed) against real git repos and servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from simple_index import fixture_closed_port  # noqa: F401 (fixture)
from syncing import clone_project, demo_pins, write_pins
from upstreams import Upstreams

from xla_tasks.engine import redact

TOKEN = "ghp_S3cretTokenValue0123456789"
PASSWORD = "hunter2-Pa55word"


def run_module(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xla_tasks", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def one_json_failure(out: str) -> dict[str, object]:
    """stdout holds exactly one JSON object, and it says the run failed."""
    document = json.loads(out)
    assert isinstance(document, dict)
    assert document["ok"] is False
    return document


# -- 5: secrets in URLs are never printed ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"https://{TOKEN}@github.com/o/r.git", "https://***@github.com/o/r.git"),
        (f"https://bot:{PASSWORD}@host/x.git", "https://bot:***@host/x.git"),
        (
            f"fatal: unable to access 'http://{TOKEN}@127.0.0.1:9/x/': refused",
            "fatal: unable to access 'http://***@127.0.0.1:9/x/': refused",
        ),
        (
            f'{{"notes": ["from https://u:{PASSWORD}@h/x"]}}',
            '{"notes": ["from https://u:***@h/x"]}',
        ),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
    ],
)
def test_redact_masks_tokens_and_passwords_but_keeps_ssh_users(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.fixture
def secret_project(workspace: Path, upstreams: Upstreams, closed_port: int) -> Path:
    """A project whose jax pin uses a token URL and xla a password URL, both unreachable."""
    project = clone_project(upstreams, workspace)
    pins = demo_pins(upstreams)
    rev, _, _ = pins["jax"]
    pins["jax"] = (rev, f"http://{TOKEN}@127.0.0.1:{closed_port}/jax.git", False)
    rev, _, _ = pins["xla"]
    pins["xla"] = (rev, f"http://ci:{PASSWORD}@127.0.0.1:{closed_port}/xla.git", False)
    write_pins(project, pins)
    return project


def test_sync_never_prints_a_token_or_password_in_text(secret_project: Path, cli) -> None:
    result = cli("sync", cwd=secret_project)

    assert result.code == 1
    assert "FAILED jax" in result.err
    assert "FAILED xla" in result.err
    assert TOKEN not in result.out + result.err
    assert PASSWORD not in result.out + result.err
    assert "http://***@127.0.0.1" in result.err


def test_sync_json_never_holds_a_token_or_password(secret_project: Path, cli) -> None:
    result = cli("sync", "--json", cwd=secret_project)

    document = one_json_failure(result.out)
    assert TOKEN not in result.out + result.err
    assert PASSWORD not in result.out + result.err
    failed = {o["name"] for o in document["outcomes"] if o["error"]}  # type: ignore[union-attr]
    assert failed == {"jax", "xla"}
