"""The README's shown output is what the tool prints, so the README cannot drift again.

Each block under a `<!-- checked: SCENARIO -->` line holds `$ xla-tasks ...` commands,
each followed by its expected output (stdout and stderr in one stream, as a terminal or a
CI log shows them). The test builds the scenario on local upstreams (the demo's, whose
commits are the same every run), runs each command as a real subprocess, and compares.
Two things are normalised, both things the README cannot know: the temporary folders
(shown as /home/me/openxla and /home/me/upstreams), and the order of a run of per-repo
lines, which is the order the repos finished in (compared as a set, in place).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from native_world import NativeWorld
from upstreams import Upstreams, git

from xla_tasks.demo.steps import as_a_user_sees
from xla_tasks.demo.upstreams import build_upstreams, pin_file_text, registry_text
from xla_tasks.workspace.registry import WORKSPACE_FILE

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = re.compile(r"<!-- checked: ([\w-]+) -->\n```[\w]*\n(.*?)```", re.DOTALL)
SHOWN_WORKSPACE = "/home/me/openxla"
SHOWN_UPSTREAMS = "/home/me/upstreams"
REPO_LINE = re.compile(r"^[\w.-]+: ")


def checked_blocks() -> list[tuple[str, str]]:
    return [(found[1], found[2]) for found in MARKER.finditer(README.read_text())]


def test_the_readme_has_checked_blocks() -> None:
    names = [name for name, _ in checked_blocks()]
    known = {*SCENARIOS, *NATIVE_SCENARIOS}
    assert known <= set(names), sorted(known - set(names))
    assert set(names) <= known, sorted(set(names) - known)


GITHUB = {
    "xla": "https://github.com/openxla/xla.git",
    "stablehlo": "https://github.com/openxla/stablehlo.git",
    "iree-stablehlo": "https://github.com/iree-org/stablehlo.git",
    "iree": "https://github.com/iree-org/iree.git",
    "jax": "https://github.com/jax-ml/jax.git",
    "openxla-pjrt-plugin": "https://github.com/openxla/openxla-pjrt-plugin.git",
}


class GithubUpstreams(Upstreams):
    """The demo's upstreams, whose commits name GitHub URLs; git sends those here."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.urls = build_upstreams(root, GITHUB)
        for name, local in self.urls.items():
            git(root, "config", "--global", f"url.{local}.insteadOf", GITHUB[name])


@pytest.mark.parametrize(
    ("scenario", "block"), checked_blocks(), ids=[name for name, _ in checked_blocks()]
)
def test_readme_block_is_what_the_tool_prints(
    scenario: str, block: str, isolated_env: Path, local_submodules: None
) -> None:
    ws = isolated_env / "openxla"
    ws.mkdir()
    if scenario in NATIVE_SCENARIOS:  # the real projects' own pin files (tests/native_world.py)
        world = NativeWorld.full(isolated_env / "upstreams")
        cwd, root = NATIVE_SCENARIOS[scenario](world, ws), world.root
    else:
        upstreams = GithubUpstreams(isolated_env / "upstreams")
        cwd, root = SCENARIOS[scenario](upstreams, ws), upstreams.root
    for command, expected in _commands(block):
        shown = _run(command, cwd, ws, root)
        assert _grouped(shown) == _grouped(expected), f"$ {command}\n{shown}"


def _commands(block: str) -> list[tuple[str, str]]:
    """Each `$ command` line and the lines up to the next one."""
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
    return [(command, "\n".join(lines).strip("\n")) for command, lines in found]


def _run(command: str, cwd: Path, ws: Path, upstreams: Path) -> str:
    words = shlex.split(command.split(" | ")[0].split("   #")[0])
    assert words[0] == "xla-tasks", command
    argv = [sys.executable, "-m", "xla_tasks", *words[1:]]
    done = as_a_user_sees(argv, cwd, env={**os.environ, "NO_COLOR": "1"})
    text = done.stdout.replace(str(ws), SHOWN_WORKSPACE).replace(str(upstreams), SHOWN_UPSTREAMS)
    return text.strip("\n")


def _grouped(text: str) -> list[object]:
    """Lines in order, except that each run of per-repo lines is one sorted group."""
    out: list[object] = []
    for line in text.splitlines():
        if REPO_LINE.match(line) and out and isinstance(out[-1], list):
            out[-1] = sorted([*out[-1], line])
        elif REPO_LINE.match(line):
            out.append([line])
        else:
            out.append(line)
    return out


# -- the scenarios: a fresh world each, in the folder the README's commands run in ----------


def _checkout(ws: Path, upstreams: Upstreams, *args: str) -> None:
    (ws / WORKSPACE_FILE).write_text(registry_text(GITHUB))
    done = subprocess.run(
        [sys.executable, "-m", "xla_tasks", "checkout", *args],
        cwd=ws,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def sync_from_scratch(upstreams: Upstreams, ws: Path) -> Path:
    """Only the project cloned: sync clones its deps."""
    _checkout(ws, upstreams, "--no-deps", "openxla-pjrt-plugin")
    return ws / "openxla-pjrt-plugin"


def synced(upstreams: Upstreams, ws: Path) -> Path:
    _checkout(ws, upstreams, "--sync", "openxla-pjrt-plugin")
    return ws / "openxla-pjrt-plugin"


def deps_not_ready(upstreams: Upstreams, ws: Path) -> Path:
    """xla moved off its pin by hand, jax with an edited file."""
    project = synced(upstreams, ws)
    git(ws / "xla", "checkout", "--quiet", "--detach", "HEAD~1")
    (ws / "jax" / "README.md").write_text("edited\n")
    return project


def jax_moved(upstreams: Upstreams, ws: Path) -> Path:
    """jax checked out at a newer upstream commit than its pin."""
    project = synced(upstreams, ws)
    upstreams.commit("jax", {"jax/api.py": "# new api\n"}, "jax: new api")
    git(ws / "jax", "fetch", "--quiet", "origin")
    git(ws / "jax", "checkout", "--quiet", "--detach", "origin/main")
    return project


def script_edited(upstreams: Upstreams, ws: Path) -> Path:
    """sync_deps.py edited by hand after `pin` generated it."""
    project = synced(upstreams, ws)
    subprocess.run([sys.executable, "-m", "xla_tasks", "pin"], cwd=project, check=True)
    script = project / "sync_deps.py"
    script.write_text(script.read_text().replace("PINNED_VERSIONS", "PINNED_VERSIONS ", 1))
    return project


def upstream_moved_on(upstreams: Upstreams, ws: Path) -> Path:
    """A project pinning xla and jax; both upstreams a few commits further on."""
    project = synced(upstreams, ws)
    pins = {
        name: (git(ws / name, "rev-parse", "HEAD"), GITHUB[name], False) for name in ("xla", "jax")
    }
    (project / "sync_deps.toml").write_text(
        pin_file_text(pins, schedules={"nightly": {"deps": ["xla", "jax"]}})
    )
    subjects = ["[XLA:GPU] fuse reductions", "xla: add a pass", "xla: faster sort"]
    for number, subject in enumerate(subjects):
        upstreams.commit("xla", {f"xla/pass{number}.cc": f"// {subject}\n"}, subject)
    upstreams.commit("jax", {"jax/api.py": "# new api\n"}, "jax: new api")
    return project


SCENARIOS: dict[str, Callable[[Upstreams, Path], Path]] = {
    "sync": sync_from_scratch,
    "status-check": deps_not_ready,
    "foreach": jax_moved,
    "pin-check-json": script_edited,
    "roll": upstream_moved_on,
}


# -- the worked examples of native pins: JAX + XLA, PyTorch/XLA ----------------------------


def _tool(cwd: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "xla_tasks", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def jax_checked_out(world: NativeWorld, ws: Path) -> Path:
    """`xla-tasks init`, `xla-tasks checkout --no-deps jax`: only jax cloned."""
    _tool(ws, "init")
    _tool(ws, "checkout", "--no-deps", "jax")
    return ws / "jax"


def jax_hacking(world: NativeWorld, ws: Path) -> Path:
    """...then `sync`, `bazelrc --write`, and a fix committed on a branch of xla."""
    jax = jax_checked_out(world, ws)
    _tool(jax, "sync")
    _tool(jax, "bazelrc", "--write")
    git(ws / "xla", "switch", "-q", "-c", "my-fix")
    (ws / "xla" / "xla" / "fix.cc").parent.mkdir(exist_ok=True)
    (ws / "xla" / "xla" / "fix.cc").write_text("// the fix\n")
    git(ws / "xla", "add", "xla/fix.cc")
    git(ws / "xla", "commit", "-q", "-m", "xla: the fix")
    return jax


def torch_xla_checked_out(world: NativeWorld, ws: Path) -> Path:
    """`xla-tasks init --preset pytorch-xla`, `checkout --no-deps torch_xla` (pytorch, its
    container, cloned on its branch)."""
    _tool(ws, "init", "--preset", "pytorch-xla")
    _tool(ws, "checkout", "--no-deps", "torch_xla")
    return ws / "pytorch" / "xla"


def torch_pin_added(world: NativeWorld, ws: Path) -> Path:
    """...synced, then `.torch_pin` names pytorch's pull request 5."""
    torch_xla = torch_xla_checked_out(world, ws)
    _tool(torch_xla, "sync")
    git(world.bare("pytorch"), "update-ref", "refs/pull/5/head", world.pytorch[1])
    (torch_xla / ".torch_pin").write_text("#5\n")
    return torch_xla


def torch_xla_fixing_xla(world: NativeWorld, ws: Path) -> Path:
    """...synced, then a fix committed on a branch of OpenXLA's xla."""
    torch_xla = torch_xla_checked_out(world, ws)
    _tool(torch_xla, "sync")
    git(ws / "xla", "switch", "-q", "-c", "my-fix")
    (ws / "xla" / "fix.cc").write_text("// the fix\n")
    git(ws / "xla", "add", "fix.cc")
    git(ws / "xla", "commit", "-q", "-m", "xla: the fix")
    return torch_xla


NATIVE_SCENARIOS: dict[str, Callable[[NativeWorld, Path], Path]] = {
    "native-jax": jax_checked_out,
    "native-jax-hacking": jax_hacking,
    "native-jax-pin": jax_hacking,
    "native-torch-xla": torch_xla_checked_out,
    "native-torch-pin": torch_pin_added,
    "native-torch-xla-pin": torch_xla_fixing_xla,
}


def test_the_stated_size_of_sync_deps_py_is_the_real_one() -> None:
    """ "It is about N KB: the engine (~M lines)": within 10% of what `pin` writes today."""
    from xla_tasks.pins.sync_deps_script import engine_text, render_sync_deps_script

    stated = re.search(r"It is about (\d+) KB: the engine \(~([\d,]+) lines\)", README.read_text())
    assert stated is not None
    script = render_sync_deps_script({"xla": "0" * 40}, {"xla": GITHUB["xla"]}, {}, {"xla": "main"})
    size_kb, lines = len(script.encode()) / 1000, len(engine_text().splitlines())
    assert abs(size_kb - int(stated[1])) <= 0.1 * size_kb, f"{size_kb:.0f} KB"
    assert abs(lines - int(stated[2].replace(",", ""))) <= 0.1 * lines, f"{lines} lines"
