"""Output while it works (contract 5.3): lines as repos land, a live display on a terminal,
nothing but the object with --json; and the parser of git's own progress lines."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyte
import pytest
from gitserver import GitHttpServer
from streaming import DISPLAY_ENV, WAIT, Gate, Terminal, in_terminal, piped
from syncing import clone_project
from upstreams import Upstreams

from xla_tasks.demo.upstreams import Gitlink, registry_text
from xla_tasks.engine.model import EngineOptions, Event, Repo
from xla_tasks.engine.progress import parse_progress
from xla_tasks.ui.live import LiveReporter, open_reporter
from xla_tasks.workspace.registry import WORKSPACE_FILE

DATA = Path(__file__).parent / "data" / "git_progress"
DEPS = ("iree", "jax", "xla")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# An SGR parameter that sets a colour (foreground, background, 256-colour, true colour).
COLOUR = re.compile(r"^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$")


def chunks(raw: str) -> list[str]:
    """git's progress output as the engine hands it over: split on CR and LF."""
    return [part for part in re.split(r"[\r\n]", raw) if part.strip()]


def colours(raw: bytes) -> list[str]:
    """Every colour parameter in the SGR escape sequences of a terminal's bytes."""
    found = []
    for params in re.findall(rb"\x1b\[([0-9;]*)m", raw):
        found += [p for p in params.decode().split(";") if COLOUR.match(p)]
    return found


def in_flight(lines: list[str], name: str, phase: str = "") -> bool:
    """A live-display row for `name` (spinner first, no `name:` as a finished line has)."""
    return any(line[:1] in SPINNER and f" {name} " in line and phase in line for line in lines)


@pytest.fixture
def project(workspace: Path, upstreams: Upstreams) -> Path:
    return clone_project(upstreams, workspace)


@pytest.fixture
def slow_xla(isolated_env: Path, upstreams: Upstreams) -> Gate:
    """Every fetch of xla waits in the server until the test releases it."""
    return Gate(isolated_env / "gate", upstreams.path("xla"))


def second_project(isolated_env: Path, upstreams: Upstreams) -> Path:
    """The same project in a second, fresh workspace (to compare two runs' lines)."""
    root = isolated_env / "ws2"
    root.mkdir()
    (root / WORKSPACE_FILE).write_text(registry_text(upstreams.urls))
    return clone_project(upstreams, root)


def plain_sync_lines(project: Path) -> list[str]:
    """`sync --jobs 4` with stdout and stderr on one pipe, as a CI log has them."""
    with piped(["sync", "--jobs", "4"], project) as run:
        code, lines = run.rest()
    assert code == 0, lines
    return lines


def repo_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(tuple(f"{name}: " for name in DEPS))]


def headline_and_after(lines: list[str]) -> list[str]:
    """The end of a sync's output: its headline, then the warnings (the pin conflict)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("synced "))
    return lines[start:]


# -- git's progress lines -------------------------------------------------------------------


def test_parser_reads_stage_counts_bytes_and_rate_from_real_clone_output() -> None:
    parsed = [(line, parse_progress(line)) for line in chunks((DATA / "clone.stderr").read_text())]

    stages = {p.stage for _, p in parsed if p is not None}
    assert stages == {
        "remote: Enumerating objects",
        "remote: Counting objects",
        "remote: Compressing objects",
        "Receiving objects",
        "Resolving deltas",
        "Checking objects",
        "Updating files",
    }
    receiving = [p for _, p in parsed if p is not None and p.stage == "Receiving objects"]
    assert receiving[-1].done
    assert (receiving[-1].handled, receiving[-1].total, receiving[-1].percent) == (396, 396, 100)
    assert (receiving[-1].size, receiving[-1].rate) == ("920.96 KiB", "15.35 MiB/s")
    assert (receiving[1].handled, receiving[1].percent, receiving[1].done) == (99, 25, False)
    enumerating = next(p for _, p in parsed if p is not None and "Enumerating" in p.stage)
    assert (enumerating.handled, enumerating.total, enumerating.done) == (396, None, True)
    not_progress = [line.strip() for line, p in parsed if p is None]
    assert not_progress == [
        "Cloning into 'dst'...",
        "remote: Total 396 (delta 92), reused 0 (delta 0), pack-reused 0",
    ]


def test_parser_reads_a_transfer_in_the_middle_and_a_fetch() -> None:
    middle = parse_progress("Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s")
    assert middle is not None
    assert (middle.handled, middle.total, middle.percent) == (450, 1000, 45)
    assert middle.detail() == "Receiving objects 450/1000, 1.20 MiB | 2.00 MiB/s"
    small = parse_progress("Unpacking objects: 100% (3/3), 512 bytes | 256.00 KiB/s, done.")
    assert small is not None
    assert (small.size, small.done) == ("512 bytes", True)
    # A server's line on a terminal ends with an erase-to-end-of-line code.
    remote = parse_progress("remote: Counting objects:  50% (5/10)\x1b[K")
    assert remote is not None
    assert remote.stage == "remote: Counting objects"
    fetch = [parse_progress(line) for line in chunks((DATA / "fetch.stderr").read_text())]
    assert [p.stage for p in fetch if p is not None and p.done] == [
        "remote: Enumerating objects",
        "remote: Counting objects",
        "remote: Compressing objects",
    ]
    assert fetch[-1] is None  # "   0f42d25..bc14d1e  master -> origin/master"


def test_every_progress_line_of_a_live_clone_is_understood(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    done = subprocess.run(
        ["git", "clone", "--progress", upstreams.url("iree"), str(tmp_path / "iree")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_PROGRESS_DELAY": "0"},
    )
    lines = [line for line in chunks(done.stderr) if "%" in line or "done." in line]
    assert lines, done.stderr
    parsed = [parse_progress(line) for line in lines]
    assert None not in parsed, [line for line, p in zip(lines, parsed, strict=True) if p is None]
    last = {p.stage: p for p in parsed if p is not None}
    assert {"Receiving objects", "Updating files"} <= set(last)
    assert all(p.done for p in last.values()), last


# -- not a terminal: a line per repo as it lands --------------------------------------------


def test_lines_of_finished_repos_arrive_while_a_slow_repo_is_still_syncing(
    project: Path, slow_xla: Gate
) -> None:
    with piped(["sync", "--jobs", "4"], project, slow_xla) as run:
        early = run.until(
            lambda seen: sum(line.startswith(("iree:", "jax:")) for line in seen) == 2
        )

        assert slow_xla.waiting.exists()  # xla is in flight, held in its server
        assert run.proc.poll() is None
        assert not any(line.startswith("xla") for line in early), early
        assert early[0].startswith(("iree: cloned", "jax: cloned"))
        slow_xla.release()
        code, lines = run.rest()

    assert code == 0, lines
    assert lines[2].startswith("xla: cloned")
    assert lines[3].startswith("synced 3 dep(s) of openxla-pjrt-plugin")
    assert len(repo_lines(lines)) == 3


def test_lines_of_parallel_repos_never_interleave(project: Path) -> None:
    lines = plain_sync_lines(project)

    shape = re.compile(r"^(iree|jax|xla): cloned [0-9a-f]{12}( \([^()]*\))?$")
    tail = headline_and_after(lines)
    assert all(shape.match(line) for line in lines[: -len(tail)]), lines
    assert sorted(line.split(":")[0] for line in repo_lines(lines)) == list(DEPS)
    assert tail[0].startswith("synced 3 dep(s) of openxla-pjrt-plugin in ")
    assert all(line.startswith("warning: xla: jax pins ") for line in tail[1:]), tail


def test_failures_stream_and_are_repeated_last(project: Path, upstreams: Upstreams) -> None:
    upstreams.break_url("jax")

    with piped(["sync", "--jobs", "4"], project) as run:
        code, lines = run.rest()

    assert code == 1
    failed = [line for line in lines if line.startswith("FAILED jax")]
    assert len(failed) == 2  # once as it failed, once at the end
    assert lines[-2:] == [failed[0], "xla-tasks sync: 1 repo(s) failed: jax"]
    assert lines.index(failed[0]) < len(lines) - 3  # the first came before the headline
    assert {line.split(":")[0] for line in lines[:-2]} >= {"iree", "xla"}


def test_a_repo_the_engine_never_ran_still_gets_its_line_once(project: Path) -> None:
    with piped(["sync", "--exclude-dep", "jax"], project) as run:
        code, lines = run.rest()

    assert code == 0, lines
    assert lines.count("jax: skipped (--exclude-dep)") == 1
    assert len(repo_lines(lines)) == 3


def test_a_reader_that_goes_away_ends_the_run_with_141_and_fails_no_repo(
    project: Path, workspace: Path
) -> None:
    proc = subprocess.Popen(  # one repo at a time: none would start after a first failed write
        [sys.executable, "-m", "xla_tasks", "sync", "--jobs", "1"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # `xla-tasks sync | head -0`
    _, err = proc.communicate(timeout=WAIT)

    assert proc.returncode == 141, err
    assert "FAILED" not in err
    assert all((workspace / name / ".git").is_dir() for name in DEPS)


def test_a_line_to_a_reader_that_left_does_not_stop_the_work() -> None:
    """The engine calls the reporter from its loop: a dead pipe must not end that loop."""
    read, write = os.pipe()
    os.close(read)
    out = os.fdopen(write, "w")
    try:
        reporter = open_reporter(False, out=out, err=sys.stderr)
        reporter(Event("jax", "done", "jax: cloned 0123456789ab"))  # raises nothing
        reporter(Event("xla", "done", "xla: cloned ba9876543210"))
        assert reporter.printed == set()  # the final report tries again, and exits 141
        with pytest.raises(BrokenPipeError):
            out.flush()
    finally:
        with contextlib.suppress(BrokenPipeError):
            out.close()


def test_json_prints_one_object_and_no_progress(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "xla_tasks", "sync", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert done.stderr == ""


def test_checkout_streams_each_repo_as_it_lands(workspace: Path, slow_xla: Gate) -> None:
    args = ["checkout", "jax,xla", "--no-deps", "--jobs", "4"]
    with piped(args, workspace, slow_xla) as run:
        early = run.until(lambda seen: any(line.startswith("jax: cloned") for line in seen))
        assert slow_xla.waiting.exists()
        assert not any(line.startswith("xla") for line in early)
        slow_xla.release()
        code, lines = run.rest()

    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == ["jax", "xla"]


def test_update_repos_streams_each_repo_once_those_before_it_are_done(
    workspace: Path, upstreams: Upstreams, isolated_env: Path
) -> None:
    """Lines keep dependency order (xla before jax, which pins it), yet stream."""
    for name in ("jax", "xla"):
        subprocess.run(["git", "clone", "-q", upstreams.url(name), name], cwd=workspace, check=True)
    upstreams.commit("jax", {"new.py": "x\n"}, "jax: new")
    upstreams.commit("xla", {"new.cc": "x\n"}, "xla: new")
    slow_jax = Gate(isolated_env / "gate", upstreams.path("jax"))  # after our own clones

    with piped(["update-repos", "-a", "--jobs", "4", "--no-push"], workspace, slow_jax) as run:
        early = run.until(lambda seen: any(line.startswith("xla:") for line in seen))
        assert slow_jax.waiting.exists()
        assert not any(line.startswith("jax:") for line in early)
        slow_jax.release()
        code, lines = run.rest()

    assert code == 0, lines
    names = [line.split(":")[0] for line in lines if line.startswith(("xla:", "jax:"))]
    assert names == ["xla", "jax"]
    assert any(line.startswith("jax: fast-forwarded main") for line in lines)


def test_rich_is_not_imported_when_no_terminal_is_attached() -> None:
    code = (
        "import io, sys\n"
        "from xla_tasks.ui.live import open_reporter\n"
        "with open_reporter(False, out=io.StringIO()) as r:\n"
        "    pass\n"
        "print(type(r).__name__, 'rich' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["LineReporter", "False"]


# -- a terminal: the live display -----------------------------------------------------------


def watch_sync(project: Path, gate: Gate, env: dict[str, str]) -> tuple[Terminal, list[str]]:
    """Sync in a terminal; wait until the screen shows xla in flight and the others landed.
    Returns the terminal, ended, and the screen as it was then."""
    term = Terminal(["sync", "--jobs", "4"], project, env)
    try:
        shown = term.until(
            lambda lines: (
                in_flight(lines, "xla", " clone ")  # the engine's phase for a clone
                and all(
                    any(line.startswith(f"{n}: cloned") for line in lines) for n in ("iree", "jax")
                )
            )
        )
        assert not any(line.startswith("xla:") for line in shown)
        gate.release()
        assert term.finish() == 0, term.lines()
    finally:
        gate.release()
        term.close()
    return term, shown


def test_terminal_shows_repos_in_flight_then_ends_with_the_plain_lines(
    project: Path, slow_xla: Gate, isolated_env: Path, upstreams: Upstreams
) -> None:
    term, during = watch_sync(project, slow_xla, {"TERM": "xterm-256color"})

    assert in_flight(during, "xla", " clone ")  # a row with the engine's phase, while held
    screen = term.lines()
    assert not any(line[:1] in SPINNER for line in screen), screen  # the live rows are gone
    plain = plain_sync_lines(second_project(isolated_env, upstreams))
    assert sorted(repo_lines(screen)) == sorted(repo_lines(plain))
    assert repo_lines(screen) == screen[:3]
    ends = headline_and_after(plain)
    assert headline_and_after(screen) == [line.replace("/ws2", "/ws") for line in ends]
    assert colours(term.raw)  # a colour terminal gets colours


def test_terminal_with_no_color_gets_no_colours(project: Path, slow_xla: Gate) -> None:
    term, _ = watch_sync(project, slow_xla, {"TERM": "xterm-256color", "NO_COLOR": "1"})

    assert colours(term.raw) == []
    assert len(repo_lines(term.lines())) == 3
    assert headline_and_after(term.lines())[0].startswith("synced 3 dep(s)")


def test_ctrl_c_on_a_terminal_ends_the_display_cleanly(project: Path, slow_xla: Gate) -> None:
    import signal

    term = Terminal(["sync", "--jobs", "4"], project, {"TERM": "xterm-256color"})
    try:
        term.until(lambda lines: in_flight(lines, "xla"))
        term.proc.send_signal(signal.SIGINT)
        code = term.finish()
    finally:
        slow_xla.release()
        term.close()

    assert code == 130
    screen = term.lines()
    assert screen[-1] == "xla-tasks: interrupted"
    assert not any(line[:1] in SPINNER for line in screen), screen
    assert "Traceback" not in term.raw.decode()


def test_bad_input_on_a_terminal_is_one_line(workspace: Path) -> None:
    code, text = in_terminal(["sync"], workspace, {"TERM": "xterm-256color"})

    assert code == 1
    lines = [line for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).splitlines() if line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("xla-tasks: ")


def test_dumb_terminal_gets_the_plain_lines_and_no_escape_codes(project: Path) -> None:
    code, text = in_terminal(["sync", "--jobs", "4"], project, {"TERM": "dumb"})

    assert code == 0
    assert "\x1b" not in text
    lines = text.splitlines()
    assert sorted(line.split(":")[0] for line in repo_lines(lines)) == list(DEPS)
    assert lines[3].startswith("synced 3 dep(s)")


def test_json_on_a_terminal_is_only_the_object(project: Path) -> None:
    code, text = in_terminal(["sync", "--json"], project, {"TERM": "xterm-256color"})

    assert code == 0
    assert "\x1b" not in text
    assert json.loads(text)["ok"] is True


def test_live_display_shows_phase_and_gits_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's events on a real terminal: the row shows what git's progress says."""
    with live_on_a_terminal(monkeypatch, 160) as (reporter, screen):
        reporter(Event("xla", "start", "xla"))
        reporter(Event("xla", "phase", "clone"))
        reporter(Event("xla", "progress", RECEIVING))
        reporter(Event("jax", "start", "jax"))
        reporter(Event("jax", "done", "jax: cloned 0123456789ab"))
        live = screen_with(screen, "450/1000", "jax: cloned", "1 done, 1 in flight")
        reporter(Event("xla", "done", "xla: cloned ba9876543210"))

    row = next(line for line in live if " xla " in line)
    for part in ("clone", "45%", "Receiving objects 450/1000, 1.20 MiB | 2.00 MiB/s"):
        assert part in row, row
    assert any(line.startswith("jax: cloned 0123456789ab") for line in live)
    assert "1 done, 1 in flight" in live
    final = [line.rstrip() for line in screen.display if line.strip()]
    assert final == ["jax: cloned 0123456789ab", "xla: cloned ba9876543210"]


def test_live_rows_are_cut_not_wrapped_on_a_narrow_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deep = "pytorch:third_party/fbgemm/third_party/asmjit"
    with live_on_a_terminal(monkeypatch, 60) as (reporter, screen):
        reporter(Event(deep, "phase", "submodules"))
        reporter(Event(deep, "progress", RECEIVING))
        live = [line for line in screen_with(screen, "0 done, 1 in flight") if line.strip()]
        reporter(Event("pytorch", "done", "pytorch: cloned 0123456789ab"))

    assert len(live) == 2, live  # the row, then "0 done, 1 in flight"
    assert live[0][0] in SPINNER
    assert live[0][2:].startswith("pytorch:")  # cut to fit, with the bar and percent
    assert " 45% " in live[0]
    assert [line.rstrip() for line in screen.display if line.strip()] == [
        "pytorch: cloned 0123456789ab"  # the submodule's row went with its repo
    ]


RECEIVING = "Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s"


@contextmanager
def live_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, cols: int
) -> Iterator[tuple[LiveReporter, pyte.Screen]]:
    """A LiveReporter writing to a real pseudo-terminal `cols` wide, read into a screen."""
    for key in DISPLAY_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", str(cols))
    master, slave = pty.openpty()
    screen = pyte.Screen(cols, 20)
    stream = pyte.ByteStream(screen)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            stream.feed(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    with os.fdopen(slave, "w") as out:
        reporter = open_reporter(False, out=out)
        assert isinstance(reporter, LiveReporter)
        with reporter:
            yield reporter, screen
    reader.join(timeout=WAIT)  # the terminal reads EIO once all was read and the writer closed
    os.close(master)


def screen_with(screen: pyte.Screen, *texts: str) -> list[str]:
    """The screen once it shows every one of `texts` (the live area redraws 8 times a second)."""
    for _ in range(400):  # a reader thread feeds the screen; poll it (not an ordering sleep)
        lines = [line.rstrip() for line in screen.display]
        if all(any(text in line for line in lines) for text in texts):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{texts!r} never all shown: {lines}")


# -- the live display keeps its shape (issue 19) and counts submodules (issue 20) -----------


def test_a_submodule_receiving_objects_shows_a_transfer_not_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with live_on_a_terminal(monkeypatch, 160) as (reporter, screen):
        reporter(Event("iree", "start", "iree"))
        reporter(Event("iree:third_party/x", "progress", RECEIVING))
        live = screen_with(screen, "450/1000")
        reporter(Event("iree", "done", "iree: cloned 0123456789ab"))

    row = next(line for line in live if " iree:third_party/x " in line)
    assert " fetch " in row, row
    assert "started" not in " ".join(live)
    assert "starting" in next(line for line in live if " iree " in line)


def test_a_failed_repo_is_counted_as_failed_not_done(monkeypatch: pytest.MonkeyPatch) -> None:
    with live_on_a_terminal(monkeypatch, 160) as (reporter, screen):
        for name in ("jax", "xla", "iree"):
            reporter(Event(name, "start", name))
        reporter(Event("jax", "done", "jax: cloned 0123456789ab"))
        reporter(Event("xla", "failed", "fetch failed: fatal: early EOF"))
        live = screen_with(screen, "FAILED xla", "1 in flight")
        reporter(Event("iree", "done", "iree: cloned ba9876543210"))

    assert "1 done, 1 failed, 1 in flight" in live, live


def test_the_name_column_keeps_its_width_when_a_long_submodule_row_appears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with live_on_a_terminal(monkeypatch, 160) as (reporter, screen):
        reporter(Event("xla", "phase", "clone"))
        reporter(Event("iree", "phase", "submodules 0/13"))
        before = screen_with(screen, " xla ", " iree ")
        reporter(Event("iree:third_party/stablehlo", "phase", "clone"))
        after = screen_with(screen, "third_party/stablehlo")
        reporter(Event("xla", "done", "xla: cloned 0123456789ab"))
        reporter(Event("iree", "done", "iree: cloned ba9876543210"))

    def phase_column(lines: list[str], name: str, phase: str) -> int:
        row = next(line for line in lines if f" {name} " in line)
        return row.index(f" {phase} ")

    assert phase_column(before, "xla", "clone") == phase_column(after, "xla", "clone")
    assert phase_column(after, "xla", "clone") == phase_column(
        after, "iree:third_party/stablehlo", "clone"
    )


def test_a_repo_in_its_submodules_shows_how_many_are_done_and_a_row_for_each_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with live_on_a_terminal(monkeypatch, 160) as (reporter, screen):
        reporter(Event("iree", "phase", "submodules 5/13"))
        for sub in ("a", "b"):
            reporter(Event(f"iree:third_party/{sub}", "start", sub))
            reporter(Event(f"iree:third_party/{sub}", "phase", "clone"))
        reporter(Event("jax", "phase", "clone"))
        reporter(Event("iree:third_party/b", "progress", RECEIVING))
        live = [line for line in screen_with(screen, "5/13", "450/1000") if line.strip()]
        reporter(Event("iree", "done", "iree: cloned 0123456789ab"))
        reporter(Event("jax", "done", "jax: cloned ba9876543210"))

    rows = [line for line in live if line[:1] in SPINNER]
    names = [row.split()[1] for row in rows]
    assert names == ["iree", "iree:third_party/a", "iree:third_party/b", "jax"], rows
    for part in (" submodules ", " 38% ", " 5/13"):
        assert part in rows[0], rows[0]
    assert all(" clone " in row for row in rows[1:3]), rows
    assert "Receiving objects 450/1000" in rows[2]
    assert live[-1].strip() == "0 done, 2 in flight"


def test_a_batch_of_submodules_reports_each_one_and_counts_them_over_http(
    upstreams: Upstreams,
    git_http_server: GitHttpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real git: one `submodule update --jobs 2` of four submodules, on a slow server; each
    submodule's progress goes to its own row, none to the superproject's."""
    from xla_tasks.engine.sync import sync_repos

    monkeypatch.setenv("GIT_PROGRESS_DELAY", "0")
    subs = {}
    for name in ("sa", "sb", "sc", "sd"):
        upstreams.create(name, {f"f{k}.txt": os.urandom(3000).hex() for k in range(20)})
        subs[name] = upstreams.head(name)
    gitmodules = "".join(
        f'[submodule "{n}"]\n\tpath = third_party/{n}\n\turl = ../{n}.git\n' for n in subs
    )
    upstreams.create("super")
    files = {".gitmodules": gitmodules, **{f"third_party/{n}": Gitlink(s) for n, s in subs.items()}}
    pin = upstreams.commit("super", files, "submodules")
    git_http_server.set(None, trickle=200_000)
    events: list[Event] = []
    repo = Repo(
        "super", str(tmp_path / "super"), git_http_server.url("super"), pin, submodules=True
    )

    (outcome,) = sync_repos([repo], EngineOptions(jobs=2), events.append)

    assert outcome.error is None, outcome.error
    counts = [e.text for e in events if e.repo == "super" and e.text.startswith("submodules")]
    assert counts[0] == "submodules 0/4"
    assert counts[-1] == "submodules 4/4"
    assert sorted(set(counts)) == [f"submodules {n}/4" for n in range(5)], counts
    for name in subs:
        mine = [(e.kind, e.text) for e in events if e.repo == f"super:third_party/{name}"]
        assert mine[:2] == [("start", f"third_party/{name}"), ("phase", "clone")], mine
        assert mine[-1][0] == "done", mine
    begun = next(i for i, e in enumerate(events) if e.text == "submodules 0/4")
    theirs = [e for e in events[begun:] if e.kind == "progress"]
    assert theirs, "git's progress of the submodules went missing"
    assert all(e.repo.startswith("super:third_party/") for e in theirs), theirs
