"""Hostile and careless input, round 2 (issue 18, items 8-11 and the roll logs): a tampered
roll journal, a dep named like its own project, an over-long registry path, an unbounded
manifest, and roll logs that grow without end. Each one is bad input or bounded work:
one line, exit 1 (or a warning), nothing changed outside what the command may change."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from syncing import demo_pins, pinned_project
from test_gate import _schedule
from upstreams import Upstreams, git, head

from xla_tasks.pins.sync_deps_toml import PIN_FILE
from xla_tasks.workspace.registry import WORKSPACE_FILE
from xla_tasks.workspace.settings import TaskOptions


@pytest.fixture
def project(synced: Path) -> Path:
    """The leaf project cloned in the workspace and synced, as a CI job has it."""
    return synced


@pytest.fixture
def new_project(workspace: Path) -> Path:
    git(workspace, "init", "--quiet", "newproj")
    return workspace / "newproj"


def _digest(text: str | None) -> str:
    return "absent" if text is None else hashlib.sha256(text.encode()).hexdigest()


def _plant_journal(
    workspace: Path, project: Path, old: dict[Path, str | None], owner: Path | None = None
) -> Path:
    """A journal as a killed `roll --verify` would leave it, with every file "unchanged
    since" (so only the new checks can stop it)."""
    from xla_tasks.roll.journal import journal_path

    journal = journal_path(workspace, project)
    journal.parent.mkdir(parents=True, exist_ok=True)
    seen = {str(path): [_digest(path.read_text() if path.is_file() else None)] for path in old}
    record = {
        "project": str(owner or project),
        "old": {str(path): text for path, text in old.items()},
        "seen": seen,
    }
    journal.write_text(json.dumps(record))
    return journal


# -- 8: the roll journal ---------------------------------------------------------------


def test_a_tampered_journal_never_creates_or_deletes_files_outside_the_project(
    project: Path, workspace: Path, tmp_path: Path, cli
) -> None:
    _schedule(project, deps=["xla"])
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    planted = tmp_path / "planted.txt"
    inside = project / "README.md"  # inside, but not a file a gated roll writes
    readme = inside.read_text()
    journal = _plant_journal(
        workspace, project, {victim: None, planted: "owned\n", inside: "owned\n"}
    )

    result = cli("roll", "nightly", "--dry-run", cwd=project)  # a dry run reads no journal
    assert journal.exists()
    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert victim.read_text() == "keep me\n"
    assert not planted.exists()
    assert inside.read_text() == readme
    assert f"warning: ignored {journal}: it names " in result.err
    assert "which is not a file a gated roll of" in result.err
    assert "nothing restored" in result.err
    assert not journal.exists()


def test_a_journal_of_another_project_is_not_applied(
    project: Path, workspace: Path, tmp_path: Path, cli
) -> None:
    _schedule(project, deps=["xla"])
    pin_file = project / PIN_FILE
    before = pin_file.read_text()
    other = tmp_path / "elsewhere" / project.name
    journal = _plant_journal(workspace, project, {pin_file: "schema = 1\n"}, owner=other)

    result = cli("roll", "nightly", "--json", cwd=project)

    assert result.code == 0, result.err
    assert pin_file.read_text() == before
    warnings = result.json()["warnings"]
    assert any(f"it belongs to another project ({other})" in w for w in warnings)
    assert not journal.exists()


def test_a_journal_still_restores_the_schedules_requirements_files(
    project: Path, workspace: Path
) -> None:
    """The files a gated roll does write are restored as before: pins and requirements."""
    from xla_tasks.roll.journal import TrialFiles, recover_gate

    _schedule(
        project,
        deps=["xla"],
        packages=[{"name": "jaxlib", "requirements": ["requirements.txt"]}],
    )
    req = project / "requirements.txt"
    req.write_text("jaxlib==0.4.1\n")
    pin_file = project / PIN_FILE
    old_pins = pin_file.read_text()
    trial = TrialFiles(workspace, project, [req.resolve(), pin_file])
    trial.write({req.resolve(): "jaxlib==0.4.2\n", pin_file: old_pins + "# a try\n"})

    notes = recover_gate(workspace, project, TaskOptions())

    assert req.read_text() == "jaxlib==0.4.1\n"
    assert pin_file.read_text() == old_pins
    assert notes == [
        "restored requirements.txt, sync_deps.toml as they were before a killed `roll --verify`"
    ]


# -- 9: the generated script never moves its own project -------------------------------


def _run_script(project: Path) -> subprocess.CompletedProcess[str]:
    """The generated script as CI runs it: a bare interpreter, from another folder."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(project / "sync_deps.py")],
        cwd=project.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_generated_script_skips_a_dep_named_like_its_own_project(
    isolated_env: Path, upstreams: Upstreams
) -> None:
    """`proj` pins a dep called `proj`: the script would land it on the project itself."""
    pins = demo_pins(upstreams)
    pins = {"proj": pins["xla"], "jax": pins["jax"]}
    project = pinned_project(isolated_env / "ws", pins)
    before = head(project)

    done = _run_script(project)

    assert done.returncode == 0, done.stderr
    assert "proj: skipped (the project being synced is never moved)" in done.stdout
    assert head(project) == before
    assert git(project, "symbolic-ref", "--short", "HEAD") == "main"
    assert (project / "sync_deps.py").is_file()
    assert git(project, "status", "--porcelain") == ""
    assert head(isolated_env / "ws" / "jax") == pins["jax"][0]


# -- 10: a registry path longer than the OS allows --------------------------------------


def _long_path_registry(workspace: Path, path: str) -> None:
    with (workspace / WORKSPACE_FILE).open("a") as registry:
        registry.write('\n[repos.deep]\nurl = "https://example.invalid/deep.git"\n')
        registry.write(f'path = "{path}"\n')


@pytest.mark.parametrize("argv", [["status"], ["update-repos", "-a"], ["checkout", "deep"]])
def test_a_registry_path_longer_than_the_os_allows_is_one_bad_input_line(
    workspace: Path, cli, argv: list[str]
) -> None:
    _long_path_registry(workspace, "/".join(["d" * 190] * 30))  # 5.7 KB, parts of 190
    before = sorted(p.name for p in workspace.iterdir())

    result = cli(*argv, cwd=workspace)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "internal error" not in result.err
    line = result.err.strip()
    assert line.startswith(f"xla-tasks: {workspace / WORKSPACE_FILE}:")
    assert ": repos.deep.path: invalid path 'dddd" in line
    assert "(5729 bytes): at most 1024 bytes; use a shorter path" in line
    assert sorted(p.name for p in workspace.iterdir()) == before

    as_json = cli(*argv, "--json", cwd=workspace)
    assert as_json.code == 1
    assert as_json.json()["ok"] is False
    assert "repos.deep.path" in as_json.json()["error"]


def test_a_registry_path_too_long_under_a_deep_workspace_root_is_named(
    tmp_path: Path, upstreams: Upstreams, cli
) -> None:
    """Each path is short enough alone; the root plus the path is not (Linux: 4096)."""
    from xla_tasks.demo.upstreams import registry_text

    root = tmp_path.joinpath(*(["r" * 200] * 15))  # about 3 KB deep
    root.mkdir(parents=True)
    (root / WORKSPACE_FILE).write_text(registry_text(upstreams.urls))
    _long_path_registry(root, "/".join(["p" * 150] * 6))  # 905 bytes

    result = cli("status", cwd=root)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert ": repos.deep.path: path too long: " in result.err
    assert "this system allows" in result.err


# -- 11: pin --import is bounded like the pin files ---------------------------------------


def _refused(new_project: Path, result, message: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 1
    assert "internal error" not in result.err
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1
    assert len(result.err) < 400
    assert message in result.err
    assert not (new_project / PIN_FILE).exists()


def test_pin_import_of_deeply_nested_yaml_is_one_bad_input_line(new_project: Path, cli) -> None:
    path = new_project / "deep.repos"
    path.write_text("[" * 100_000)

    result = cli("pin", "--import", str(path), cwd=new_project)

    _refused(new_project, result, f"{path}:1: invalid YAML: ")
    # our own bound, or libyaml's (the C parser, where PyYAML has it, stops first)
    assert "nested more than 64 deep" in result.err or "maximum nesting depth" in result.err


def test_pin_import_of_an_endless_file_reads_at_most_4_mib(new_project: Path, cli) -> None:
    result = cli("pin", "--import", "/dev/zero", cwd=new_project)

    _refused(new_project, result, "/dev/zero: larger than 4 MiB")


def test_pin_import_never_expands_an_alias_bomb_into_its_message(new_project: Path, cli) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)]
    lines.append("repositories:\n  bomb:\n    type: *a6\n    version: *a6\n    url: *a6")
    path = new_project / "bomb.repos"
    path.write_text("\n".join(lines) + "\n")

    result = cli("pin", "--import", str(path), cwd=new_project)

    _refused(new_project, result, "repositories.bomb: type a list: only git repositories pin")


# -- roll logs: capped per try, pruned to the last runs ----------------------------------


def test_a_try_log_keeps_the_head_and_tail_of_a_huge_verify_output(
    project: Path, upstreams: Upstreams, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xla_tasks.roll import gate

    monkeypatch.setattr(gate, "TRY_LOG_LIMIT", 64 * 1024)
    _schedule(project, deps=["xla"])
    upstreams.commit("xla", {"fine.cc": "ok"}, "xla: fine")
    cmd = "echo FIRST; yes noise | head -c 2000000; echo; echo LAST"

    result = cli("roll", "nightly", "--verify", cmd, "--json", cwd=project)

    assert result.code == 0, result.err
    log = Path(result.json()["data"]["tries"][0]["log"])
    text = log.read_text()
    assert log.stat().st_size < 64 * 1024 + 4096
    assert "\nFIRST\nnoise\n" in text
    assert text.endswith("\nLAST\n\n# verify passed\n")
    assert "bytes of output cut here]" in text
    assert text.startswith("# xla-tasks roll nightly --verify: try 1\n")


def test_old_roll_log_folders_are_pruned_to_the_last_runs(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    import os

    from xla_tasks.roll.gate import KEEP_LOG_RUNS

    logs = workspace / ".xla-tasks" / "roll-logs"
    logs.mkdir(parents=True)
    old = []
    for day in range(1, 13):
        run = logs / f"nightly-202501{day:02d}T000000Z"
        run.mkdir()
        (run / "try-1.log").write_text("old\n")
        os.utime(run, (day * 86400, day * 86400))
        old.append(run)
    mine = logs / "my-notes"
    mine.mkdir()
    odd = logs / "nightly-20240101T000000Z"  # named like a run, but holds a user's file
    odd.mkdir()
    (odd / "keep.txt").write_text("mine\n")
    _schedule(project, deps=["xla"])
    upstreams.commit("xla", {"fine.cc": "ok"}, "xla: fine")

    result = cli("roll", "nightly", "--verify", "true", "--json", cwd=project)

    assert result.code == 0, result.err
    new = Path(result.json()["data"]["log_dir"])
    runs = sorted(p for p in logs.iterdir() if p.name.startswith("nightly-2025"))
    assert runs == old[-(KEEP_LOG_RUNS - 1) :]
    assert new.is_dir()
    assert mine.is_dir()
    assert (odd / "keep.txt").read_text() == "mine\n"


# -- regexes a pin file gives run in linear time -----------------------------------------

EVIL = "(x+x+)+y"  # Python's re needs about 2**40 steps for 40 x's without a y


def _hostile_submodule_project(isolated_env: Path, upstreams: Upstreams, regex: str) -> Path:
    """A project pinning `deep`, whose one submodule sits at a path of 40 x's, with the
    pin's `exclude_submodules = [regex]`."""
    from xla_tasks.demo.upstreams import Gitlink

    upstreams.create("leaf")
    modules = f'[submodule "x"]\n\tpath = {"x" * 40}\n\turl = {upstreams.url("leaf")}\n'
    upstreams.create("deep")
    rev = upstreams.commit(
        "deep", {".gitmodules": modules, "x" * 40: Gitlink(upstreams.head("leaf"))}, "deep: sub"
    )
    project = pinned_project(isolated_env / "ws", {"deep": (rev, upstreams.url("deep"), True)})
    text = (project / PIN_FILE).read_text()
    listed = json.dumps(regex)  # a TOML basic string
    text = text.replace("submodules = true", f"submodules = true\nexclude_submodules = [{listed}]")
    (project / PIN_FILE).write_text(text)
    return project


def test_a_backtracking_exclude_regex_in_a_pin_file_cannot_hang_sync_or_the_script(
    isolated_env: Path, upstreams: Upstreams
) -> None:
    project = _hostile_submodule_project(isolated_env, upstreams, EVIL)
    run = [sys.executable, "-m", "xla_tasks"]

    pinned = subprocess.run([*run, "pin", "--from-toml"], cwd=project, timeout=120, check=False)
    assert pinned.returncode == 0
    synced = subprocess.run(
        [*run, "sync"], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stderr
    leaf = isolated_env / "ws" / "deep" / ("x" * 40)
    assert head(leaf) == upstreams.head("leaf")
    checked = subprocess.run(
        [*run, "status", "--check"], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stderr

    git(leaf.parent, "submodule", "deinit", "-q", "-f", "x" * 40)
    script = _run_script(project)
    assert script.returncode == 0, script.stderr
    assert head(leaf) == upstreams.head("leaf")


@pytest.mark.parametrize(
    ("regex", "why"),
    [
        ("(?=x)y", "lookarounds are not supported here"),
        ("(a)\\1", "backreferences are not supported here"),
        ("(?i)llvm", "inline flags like (?i) are not supported here"),
        ("(a{50}){50}", "too large (7600 states once its repeats are expanded, at most 500)"),
        ("(" * 5000 + ")" * 5000, "groups nested too deeply"),
    ],
    ids=["lookahead", "backreference", "flags", "too-large", "too-deep"],
)
def test_a_pin_file_regex_outside_the_linear_subset_is_one_located_line(
    isolated_env: Path, upstreams: Upstreams, cli, regex: str, why: str
) -> None:
    project = _hostile_submodule_project(isolated_env, upstreams, regex)
    before = sorted(p.name for p in project.parent.iterdir())

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert f"{project / PIN_FILE}:8: deps.deep.exclude_submodules: " in result.err
    assert why in result.err
    assert sorted(p.name for p in project.parent.iterdir()) == before


@pytest.mark.parametrize(
    "pattern",
    [
        "^third_party/llvm",
        "llvm$",
        "(fbgemm|kineto)",
        "^third_party/(a|bc)+/x",
        r"\btest\b",
        r"\Btest",
        "a{2,4}b",
        "[^/]+/[^/]*$",
        r"\d+",
        r"\w+\s?",
        "(a+)+$",
        "(a|aa)+$",
        "a*a*a*b",
        ".*",
        "",
        "[a-c\\d_]",
        "^$",
        r"foo\Z",
        r"\Afoo",
        "a.b",
        "(ab)*c",
        "(a*)*b",
        "a{0}",
        "(?:x|y)z",
        r"[\W]",
        r"\S\D",
    ],
)
def test_pin_file_regexes_match_exactly_as_python_re_does(pattern: str) -> None:
    import random
    import re

    from xla_tasks.engine.pathregex import path_search

    rng = random.Random(pattern)
    samples = ["", "third_party/llvm", "a/bc/bc/x", "test_x test", "aaab", "foo\n"]
    samples += ["".join(rng.choice("ab/_ x1t\nesfoz") for _ in range(12)) for _ in range(300)]
    for text in samples:
        assert path_search(pattern, text) == (re.search(pattern, text) is not None), text
