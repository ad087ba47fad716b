"""Output of any size costs bounded memory and bounded disk (issue 18, 7 and the roll logs):
`foreach` streams each block from its temp file, `--json` keeps a capped head and tail,
and a gated roll's logs are capped per try and pruned to the last runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from syncing import PROJECT

MB = 1024 * 1024
BIG = 40 * MB  # per repo, 4 repos: 160 MB of output


def _peak_rss_mb(argv: list[str], cwd: Path, out: Path) -> tuple[int, float]:
    """Run argv in a fresh interpreter that only waits for it; its peak RSS in MB."""
    probe = (
        "import resource, subprocess, sys\n"
        "with open(sys.argv[1], 'wb') as out:\n"
        "    done = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(out), *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    code, peak = done.stdout.split()
    return int(code), float(peak)


def test_foreach_streams_big_outputs_with_bounded_memory(synced: Path, tmp_path: Path) -> None:
    """4 repos x 40 MB: every byte reaches stdout, in blocks, while the process stays small
    (it held all of it, twice over, before: 887 MB for 4 x 150 MB)."""
    cmd = f'yes "$XLA_TASKS_REPO_NAME says hello" | head -c {BIG}'
    out = tmp_path / "out.txt"
    code, peak = _peak_rss_mb(
        [sys.executable, "-m", "xla_tasks", "foreach", cmd, "--jobs", "4"], synced, out
    )
    assert code == 0
    assert peak < 120, f"peak RSS {peak:.0f} MB for {4 * BIG // MB} MB of output"
    assert out.stat().st_size > 4 * BIG
    with out.open("rb") as handle:
        headers = [line for line in handle if line.startswith(b"== ")]
    assert headers == [f"== {n} ({n}) ==\n".encode() for n in (PROJECT, "xla", "jax", "iree")]


def test_foreach_json_keeps_the_head_and_tail_of_a_big_output_and_says_what_was_cut(
    synced: Path, tmp_path: Path
) -> None:
    from xla_tasks.commands.foreach import JSON_OUTPUT_LIMIT

    cmd = (
        f'[ "$XLA_TASKS_REPO_NAME" = jax ] || exit 0; echo FIRST; '
        f"yes middle | head -c {3 * MB}; echo; echo LAST"
    )
    out = tmp_path / "out.json"
    code, _ = _peak_rss_mb(
        [sys.executable, "-m", "xla_tasks", "foreach", cmd, "--json"], synced, out
    )
    assert code == 0
    repos = {repo["name"]: repo for repo in json.loads(out.read_text())["data"]["repos"]}
    jax = repos["jax"]
    whole = len("FIRST\n") + 3 * MB + len("\nLAST\n")
    assert jax["output_cut"] == whole - JSON_OUTPUT_LIMIT
    assert jax["output"].startswith("FIRST\nmiddle\n")
    assert jax["output"].endswith("\nLAST\n")
    assert f"[xla-tasks: {jax['output_cut']} bytes of output cut here]" in jax["output"]
    assert repos["xla"] == {**repos["xla"], "output": "", "output_cut": 0}


def test_foreach_output_without_a_final_newline_still_ends_its_block(synced: Path, cli) -> None:
    result = cli("foreach", "printf 'no newline'", cwd=synced)
    assert result.code == 0, result.err
    assert "== xla (xla) ==\nno newline\n== jax (jax) ==\n" in result.out


def test_foreach_streams_invalid_utf8_as_replacement_characters(synced: Path, cli) -> None:
    result = cli("foreach", r"printf 'a\377b\n'", cwd=synced)
    assert result.code == 0, result.err
    assert "== xla (xla) ==\na\ufffdb\n" in result.out


def test_copy_capped_keeps_small_outputs_whole(tmp_path: Path) -> None:
    import io

    from xla_tasks.shell import copy_capped

    src = io.BytesIO(b"x" * 100)
    dst = io.BytesIO()
    assert copy_capped(src, dst, 100) == 0
    assert dst.getvalue() == b"x" * 100
    dst = io.BytesIO()
    assert copy_capped(io.BytesIO(b"a" * 60 + b"b" * 60), dst, 100) == 20
    assert dst.getvalue() == b"a" * 50 + b"\n[xla-tasks: 20 bytes of output cut here]\n" + b"b" * 50
    assert os.path.exists(tmp_path)
