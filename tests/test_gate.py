"""`roll --verify CMD`: real upstreams, real syncs, a real shell command as the build.

CMD fails when a file that a bad commit added is present in the synced dep (the way a
build breaks on a bad commit), so each scenario's culprit is known and checkable. Each
test states how many runs of CMD its scenario took (they are listed in the README too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w
from simple_index import fixture_index_server, fixture_simple_index  # noqa: F401
from upstreams import Upstreams, head

from xla_tasks.pins.sync_deps_toml import PIN_FILE, load_pin_file

XLA_OK = "test ! -e ../xla/BROKEN"


@pytest.fixture
def project(synced: Path) -> Path:
    """The leaf project cloned in the workspace and synced, as a CI job has it."""
    return synced


def _schedule(project: Path, **schedule: object) -> None:
    import tomllib

    data = tomllib.loads((project / PIN_FILE).read_text())
    data["schedules"] = {"nightly": schedule}
    (project / PIN_FILE).write_text(tomli_w.dumps(data))


def _pins(project: Path) -> dict[str, str]:
    return {name: dep.rev for name, dep in load_pin_file(project / PIN_FILE).deps.items()}


def _snapshot(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}


def _held(result) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    return {entry["name"]: entry for entry in result.json()["data"]["held_back"]}


def test_one_culprit_dep_among_several_is_held_back_and_the_others_roll(
    project: Path, upstreams: Upstreams, cli
) -> None:
    """4 runs of CMD: everything (fails), nothing (passes), iree (passes), iree+jax (passes)."""
    _schedule(project, deps=["iree", "jax", "xla"])
    old = _pins(project)
    iree = upstreams.commit("iree", {"a.c": "ok"}, "iree: fine")
    jax = upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    bad = upstreams.commit("xla", {"BROKEN": "x"}, "xla: break the build")
    result = cli("roll", "nightly", "--verify", XLA_OK, "--json", cwd=project)
    assert result.code == 0, result.err
    data = result.json()["data"]
    assert _pins(project) == {"iree": iree, "jax": jax, "xla": old["xla"]}
    assert [m["name"] for m in data["deps"]] == ["iree", "jax"]
    held = _held(result)
    assert list(held) == ["xla"]
    assert held["xla"]["reason"] == "verify exited 1"
    assert held["xla"]["failed_with"] == bad
    assert len(data["tries"]) == 4
    assert [t["passed"] for t in data["tries"]] == [False, True, True, True]
    # the deps are synced to what was written, and the written set passes CMD
    assert head(project.parent / "xla") == old["xla"]
    assert head(project.parent / "jax") == jax
    assert subprocess.run(["sh", "-c", XLA_OK], cwd=project, check=False).returncode == 0
    assert cli("pin", "--check", cwd=project).code == 0
    logs = [Path(t["log"]) for t in data["tries"]]
    assert all(log.is_file() for log in logs)
    assert logs[0].parent.parent == project.parent / ".xla-tasks" / "roll-logs"


def test_text_summary_names_the_rolled_the_held_back_their_output_and_the_logs(
    project: Path, upstreams: Upstreams, cli
) -> None:
    _schedule(project, deps=["jax", "xla"])
    old_xla = _pins(project)["xla"]
    upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    bad = upstreams.commit("xla", {"BROKEN": "x"}, "xla: break the build")
    cmd = f"echo building; echo 'error: xla is broken' >&2; {XLA_OK}"
    result = cli("roll", "nightly", "--verify", cmd, cwd=project)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "Roll nightly: jax"
    assert "Held back (the verify command failed with them):" in lines
    held = next(line for line in lines if line.startswith("- xla:"))
    assert held == f"- xla: {old_xla[:12]}..{bad[:12]}: verify exited 1 [try-1.log]"
    tail = lines[lines.index(held) + 1 :]
    assert tail[:2] == ["    building", "    error: xla is broken"]
    footer = lines[-1]
    assert footer.startswith(f"Verified with `{cmd}`: 3 tries, logs in ")
    log_dir = Path(footer.rsplit(" logs in ", 1)[1])
    log = (log_dir / "try-1.log").read_text()
    assert "error: xla is broken" in log
    assert f"xla {old_xla[:12]} -> {bad[:12]}" in log


def test_a_bad_package_version_is_held_back_from_the_schedules_verify_key(
    project: Path, upstreams: Upstreams, simple_index, cli
) -> None:
    """3 runs: everything (fails), nothing (passes), xla alone (passes)."""
    (project / "requirements.txt").write_text("numpy>=1.26\njaxlib==0.4.1\n")
    package = {
        "name": "jaxlib",
        "requirements": ["requirements.txt"],
        "index_url": simple_index.index_url,
    }
    verify = "! grep -q '^jaxlib==0.4.10$' requirements.txt"
    _schedule(project, deps=["xla"], packages=[package], verify=verify)
    xla = upstreams.commit("xla", {"fine.cc": "ok"}, "xla: fine")
    result = cli("roll", "nightly", "--json", cwd=project)
    assert result.code == 0, result.err
    assert (project / "requirements.txt").read_text() == "numpy>=1.26\njaxlib==0.4.1\n"
    assert _pins(project)["xla"] == xla
    held = _held(result)
    assert held["jaxlib"]["kind"] == "package"
    assert held["jaxlib"]["failed_with"] == "0.4.10"
    assert held["jaxlib"]["first_bad"] is None
    assert len(result.json()["data"]["tries"]) == 3
    assert load_pin_file(project / PIN_FILE).schedules["nightly"].verify == verify
    upstreams.commit("xla", {"BROKEN": "x"}, "xla: break")  # now both are held back
    again = cli("roll", "nightly", "--verify", f"{verify} && {XLA_OK}", cwd=project)
    assert again.code == 0, again.err
    assert again.out.startswith("roll nightly: nothing rolled, every move was held back\n")
    assert (project / "requirements.txt").read_text() == "numpy>=1.26\njaxlib==0.4.1\n"
    assert _pins(project)["xla"] == xla


def test_two_items_that_fail_only_together_roll_one_and_hold_back_the_other(
    project: Path, upstreams: Upstreams, cli
) -> None:
    """4 runs: everything (fails), nothing, iree (passes), iree+jax (passes); xla held back."""
    _schedule(project, deps=["iree", "jax", "xla"])
    iree = upstreams.commit("iree", {"a.c": "ok"}, "iree: fine")
    jax = upstreams.commit("jax", {"new_api.py": "x"}, "jax: new api")
    upstreams.commit("xla", {"old_api_removed": "x"}, "xla: drop old api")
    cmd = "! { test -e ../jax/new_api.py && test -e ../xla/old_api_removed; }"
    result = cli("roll", "nightly", "--verify", cmd, "--json", cwd=project)
    assert result.code == 0, result.err
    pins = _pins(project)
    assert (pins["iree"], pins["jax"]) == (iree, jax)
    assert list(_held(result)) == ["xla"]
    assert subprocess.run(["sh", "-c", cmd], cwd=project, check=False).returncode == 0
    assert len(result.json()["data"]["tries"]) == 4


def test_bisect_finds_the_exact_first_bad_commit_and_rolls_to_the_one_before(
    project: Path, upstreams: Upstreams, cli
) -> None:
    """5 runs: everything, nothing, jax alone (3 to find xla), then 2 to bisect its 5 commits."""
    _schedule(project, deps=["jax", "xla"])
    old_xla = _pins(project)["xla"]
    upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    good = [upstreams.commit("xla", {f"f{i}.cc": "ok"}, f"xla: good {i}") for i in (1, 2)]
    first_bad = upstreams.commit("xla", {"BROKEN": "x"}, "xla: the bad one")
    upstreams.commit("xla", {"f4.cc": "ok"}, "xla: after")
    new = upstreams.commit("xla", {"f5.cc": "ok"}, "xla: newest")
    result = cli("roll", "nightly", "--verify", XLA_OK, "--bisect", "--json", cwd=project)
    assert result.code == 0, result.err
    assert _pins(project)["xla"] == good[-1]
    held = _held(result)["xla"]
    assert held["first_bad"] == first_bad
    assert held["subject"] == "xla: the bad one"
    assert held["rolled_to"] == good[-1]
    assert (held["old"], held["new"]) == (old_xla, new)
    data = result.json()["data"]
    assert len(data["tries"]) == 5
    (xla_move,) = [m for m in data["deps"] if m["name"] == "xla"]
    assert xla_move["new"] == good[-1]
    assert xla_move["commits"] == 2
    assert head(project.parent / "xla") == good[-1]
    text = cli("roll", "nightly", "--dry-run", cwd=project).out  # the held-back rest is still there
    assert f"- xla: {good[-1][:12]}..{new[:12]}" in text


def test_a_broken_base_says_so_writes_nothing_and_exits_1(
    project: Path, upstreams: Upstreams, cli
) -> None:
    """2 runs: everything (fails), nothing moved (fails too)."""
    _schedule(project, deps=["jax", "xla"])
    old = _pins(project)
    upstreams.commit("xla", {"fine.cc": "ok"}, "xla: fine")
    before = _snapshot(project)
    result = cli("roll", "nightly", "--verify", "echo base fails; false", "--json", cwd=project)
    assert result.code == 1
    data = result.json()
    assert data["ok"] is False
    assert data["data"]["base_broken"] is True
    assert "base is broken" in data["failed_check"]
    assert len(data["data"]["tries"]) == 2
    assert _snapshot(project) == before
    assert head(project.parent / "xla") == old["xla"]
    text = cli("roll", "nightly", "--verify", "echo base fails; false", cwd=project)
    assert text.code == 1
    assert "roll nightly: base is broken: `echo base fails; false` fails with nothing moved" in (
        text.out
    )
    assert "    base fails" in text.out
    assert "base is broken" in text.err


def test_a_hanging_verify_is_ended_by_verify_timeout_and_its_item_held_back(
    project: Path, upstreams: Upstreams, cli
) -> None:
    _schedule(project, deps=["jax", "xla"])
    upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    upstreams.commit("xla", {"BROKEN": "x"}, "xla: hangs the tests")
    cmd = "if test -e ../xla/BROKEN; then sleep 600; fi"
    result = cli("roll", "nightly", "--verify", cmd, "--verify-timeout", "1", "--json", cwd=project)
    assert result.code == 0, result.err
    assert _held(result)["xla"]["reason"] == "verify timed out after 1 s"


def test_max_tries_caps_the_runs_and_holds_back_what_was_not_tried(
    project: Path, upstreams: Upstreams, cli
) -> None:
    _schedule(project, deps=["iree", "jax", "xla"])
    old = _pins(project)
    upstreams.commit("iree", {"a.c": "ok"}, "iree: fine")
    upstreams.commit("xla", {"BROKEN": "x"}, "xla: break")
    upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    result = cli("roll", "nightly", "--verify", XLA_OK, "--max-tries", "2", "--json", cwd=project)
    assert result.code == 0, result.err
    data = result.json()["data"]
    assert len(data["tries"]) == 2
    assert _pins(project) == old
    assert {e["name"]: e["reason"] for e in data["held_back"]} == {
        "iree": "not tried (--max-tries)",
        "jax": "not tried (--max-tries)",
        "xla": "not tried (--max-tries)",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verify", "true", "--max-tries", "x"], "--max-tries expects a positive integer"),
        (["--verify", "true", "--verify-timeout", "soon"], "--verify-timeout expects seconds"),
        (["--bisect"], "--bisect, --max-tries and --verify-timeout need a verify command"),
    ],
)
def test_bad_gate_flags_are_one_line_errors_that_change_nothing(
    project: Path, upstreams: Upstreams, cli, args: list[str], message: str
) -> None:
    upstreams.commit("xla", {"fine.cc": "ok"}, "xla: fine")
    before = _snapshot(project)
    result = cli("roll", "nightly", *args, cwd=project)
    assert result.code == 1
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert _snapshot(project) == before


# -- interruptions: a real `xla-tasks roll --verify` process, stopped in the middle of a try --


def _start_hanging_roll(project: Path, marker: Path) -> subprocess.Popen[str]:
    """A roll whose CMD, when xla is at its bad commit, records its pid and hangs."""
    cmd = f'if test -e ../xla/BROKEN; then echo $$ > "{marker}"; sleep 600; fi'
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "xla_tasks", "roll", "nightly", "--verify", cmd],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not (marker.is_file() and marker.read_text().strip()) and proc.poll() is None:
        assert time.monotonic() < deadline, "the verify command never started"
        time.sleep(0.05)
    return proc


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class HangingRoll:
    """A roll of jax (fine) and xla (bad) whose first try hangs in CMD, everything moved."""

    old: dict[str, str]
    jax: str
    before: dict[str, bytes]
    proc: subprocess.Popen[str]
    cmd_pid: int


def _hanging_roll(project: Path, upstreams: Upstreams, tmp_path: Path) -> HangingRoll:
    _schedule(project, deps=["jax", "xla"])
    old = _pins(project)
    jax = upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    upstreams.commit("xla", {"BROKEN": "x"}, "xla: break")
    before = _snapshot(project)
    marker = tmp_path / "cmd.pid"
    proc = _start_hanging_roll(project, marker)
    return HangingRoll(old, jax, before, proc, int(marker.read_text()))


def test_sigkill_in_the_middle_of_a_try_then_a_rerun_converges(
    project: Path, upstreams: Upstreams, tmp_path: Path, cli
) -> None:
    """Killed during run 1 (everything moved); the re-run restores, then takes 3 runs."""
    roll = _hanging_roll(project, upstreams, tmp_path)
    old, jax = roll.old, roll.jax
    roll.proc.kill()  # SIGKILL: no finally runs; the try's files stay in the work tree
    roll.proc.communicate(timeout=30)
    os.killpg(roll.cmd_pid, signal.SIGKILL)  # its CMD lives on in its own session: end it
    assert _pins(project) != old  # mid-try state
    journal = list((project.parent / ".xla-tasks" / "roll-journal").iterdir())
    assert len(journal) == 1
    assert (
        json.loads(journal[0].read_text())["old"][str(project / PIN_FILE)]
        == roll.before[PIN_FILE].decode()
    )

    result = cli("roll", "nightly", "--verify", XLA_OK, "--json", cwd=project)
    assert result.code == 0, result.err
    data = result.json()
    assert any("restored" in w and "killed `roll --verify`" in w for w in data["warnings"])
    assert _pins(project) == {**old, "jax": jax}
    assert list(_held(result)) == ["xla"]
    assert len(data["data"]["tries"]) == 3
    assert not journal[0].exists()
    assert head(project.parent / "xla") == old["xla"]
    assert cli("pin", "--check", cwd=project).code == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_in_the_middle_of_a_try_restores_the_old_files_and_deps(
    project: Path,
    upstreams: Upstreams,
    tmp_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,
    sig: signal.Signals,
) -> None:
    """SIGTERM too: a cancelled CI job gets its files back as a Ctrl-C does."""
    roll = _hanging_roll(project, upstreams, tmp_path)
    monkeypatch.setenv("INVOKE_XLA_TASKS_LOCK_TIMEOUT", "0")
    busy = cli("sync", cwd=project)  # the lock is held through the tries, CMD included
    assert busy.code == 1
    assert "workspace is busy" in busy.err
    assert "(roll)" in busy.err
    roll.proc.send_signal(sig)
    _, err = roll.proc.communicate(timeout=60)
    code, line = (143, "terminated") if sig == signal.SIGTERM else (130, "interrupted")
    assert roll.proc.returncode == code, err
    assert f"xla-tasks: {line}" in err
    assert "Traceback" not in err
    assert not _alive(roll.cmd_pid)  # the hanging CMD was ended with its process group
    assert _snapshot(project) == roll.before
    assert head(project.parent / "xla") == roll.old["xla"]
    assert head(project.parent / "jax") == roll.old["jax"]
    assert list((project.parent / ".xla-tasks" / "roll-journal").iterdir()) == []


def test_a_journal_never_overwrites_files_changed_since_the_killed_run(
    project: Path, workspace: Path
) -> None:
    from xla_tasks.roll.journal import TrialFiles, journal_path, recover_gate
    from xla_tasks.workspace.settings import TaskOptions

    pin_file = project / PIN_FILE
    old = pin_file.read_text()
    trial = TrialFiles(workspace, project, [pin_file])
    trial.write({pin_file: old.replace("schema = 1", "schema = 1\n# a try")})  # then: SIGKILL
    pin_file.write_text(old + "# the user's own edit\n")
    notes = recover_gate(workspace, project, TaskOptions())
    assert pin_file.read_text() == old + "# the user's own edit\n"
    assert len(notes) == 1
    assert "sync_deps.toml changed since: left as they are" in notes[0]
    assert not journal_path(workspace, project).exists()


def test_an_empty_verify_key_is_a_located_error(project: Path, cli) -> None:
    _schedule(project, deps=["xla"], verify=" ")
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 1
    assert "schedules.nightly.verify: expected a shell command" in result.err


def test_verify_never_runs_when_nothing_moves_or_on_a_dry_run(
    project: Path, upstreams: Upstreams, tmp_path: Path, cli
) -> None:
    _schedule(project, deps=["jax", "xla"])
    marker = tmp_path / "ran"
    cmd = f"touch {marker}"
    nothing = cli("roll", "nightly", "--verify", cmd, cwd=project)
    assert nothing.code == 0, nothing.err
    assert "nothing to change" in nothing.out
    upstreams.commit("xla", {"fine.cc": "ok"}, "xla: fine")
    before = _snapshot(project)
    dry = cli("roll", "nightly", "--verify", cmd, "--dry-run", cwd=project)
    assert dry.code == 0, dry.err
    assert f"(dry run: `{cmd}` would gate these moves)" in dry.out
    assert not marker.exists()
    assert _snapshot(project) == before


def test_a_dep_whose_new_commit_cannot_be_synced_is_held_back_with_the_sync_error(
    project: Path, upstreams: Upstreams, cli
) -> None:
    """A try whose sync fails counts as failed: CMD does not even run for it."""
    _schedule(project, deps=["jax", "xla"])
    jax = upstreams.commit("jax", {"b.py": "ok"}, "jax: fine")
    upstreams.commit("xla", {PIN_FILE: "schema = [broken"}, "xla: a malformed pin file")
    result = cli("roll", "nightly", "--verify", "true", "--json", cwd=project)
    assert result.code == 0, result.err
    assert _pins(project)["jax"] == jax
    reason = _held(result)["xla"]["reason"]
    assert reason.startswith("sync failed: ")
    assert "xla" in reason
    assert PIN_FILE in reason
