"""The generated sync_deps.py, run the way CI bots run it: a bare interpreter and git.

Each test renders a script into `<tmp>/ws/proj/sync_deps.py` and runs it as a subprocess
with `python -I -S` (no site-packages, so xla_tasks and anything else non-stdlib is out
of reach) from an unrelated cwd, against bare upstreams copied from a session template.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from xla_tasks.pins.sync_deps_script import (
    HEADER,
    SHEBANG,
    render_sync_deps_script,
)

# Built before the isolation fixture runs, so it carries its own identity and config.
_BUILD_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Upstream",
    "GIT_AUTHOR_EMAIL": "upstream@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_NAME": "Upstream",
    "GIT_COMMITTER_EMAIL": "upstream@example.com",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}


def _find_python38() -> str | None:
    """A working Python 3.8 to run the script under, if this machine has one."""
    pyenv = Path(os.path.expanduser("~/.pyenv/versions"))
    candidates = sorted(str(p) for p in pyenv.glob("3.8*/bin/python3.8")) if pyenv.is_dir() else []
    candidates += [found] if (found := shutil.which("python3.8")) else []
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-I", "-S", "-c", "import sys; print(sys.version_info[:2] == (3, 8))"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":  # a pyenv shim without 3.8 selected fails here
            return candidate
    return None


PYTHON38 = _find_python38()


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _commit(work: Path, message: str, files: Mapping[str, str]) -> str:
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git("add", "--", *files, cwd=work, env=_BUILD_ENV)
    git("commit", "-q", "-m", message, cwd=work, env=_BUILD_ENV)
    return git("rev-parse", "HEAD", cwd=work, env=_BUILD_ENV)


def _new_work_repo(root: Path, name: str) -> Path:
    work = root / "work" / name
    git("init", "-q", "-b", "main", str(work), cwd=root, env=_BUILD_ENV)
    return work


def _publish(root: Path, work: Path) -> None:
    git(
        "clone", "-q", "--bare", str(work), str(root / f"{work.name}.git"), cwd=root, env=_BUILD_ENV
    )


def _build_upstreams(root: Path) -> dict[str, str]:
    """alpha (2 commits), beta (1), lib (2) and gamma, whose two submodules use lib.

    gamma's submodule URLs are relative (`../lib.git`), so every per-test copy of the
    upstreams is self-contained. Submodule `other` pins lib's first commit, not a tip.
    """
    shas: dict[str, str] = {}
    alpha = _new_work_repo(root, "alpha")
    shas["alpha1"] = _commit(alpha, "alpha 1", {"README": "alpha 1\n"})
    shas["alpha2"] = _commit(alpha, "alpha 2", {"README": "alpha 2\n"})
    beta = _new_work_repo(root, "beta")
    shas["beta1"] = _commit(beta, "beta 1", {"beta.txt": "beta\n"})
    lib = _new_work_repo(root, "lib")
    shas["lib1"] = _commit(lib, "lib 1", {"lib.c": "int one;\n"})
    shas["lib2"] = _commit(lib, "lib 2", {"lib.c": "int two;\n"})
    gamma = _new_work_repo(root, "gamma")
    gitmodules = (
        '[submodule "lib"]\n\tpath = third_party/lib\n\turl = ../lib.git\n'
        '[submodule "other"]\n\tpath = third_party/other\n\turl = ../lib.git\n'
    )
    (gamma / ".gitmodules").write_text(gitmodules)
    for path, sha in (("third_party/lib", shas["lib2"]), ("third_party/other", shas["lib1"])):
        git(
            "update-index",
            "--add",
            "--cacheinfo",
            f"160000,{sha},{path}",
            cwd=gamma,
            env=_BUILD_ENV,
        )
    shas["gamma1"] = _commit(gamma, "gamma 1", {"gamma.txt": "gamma\n", ".gitmodules": gitmodules})
    for work in (alpha, beta, lib, gamma):
        _publish(root, work)
    shutil.rmtree(root / "work")
    return shas


@pytest.fixture(scope="session")
def upstream_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("upstreams")
    return root, _build_upstreams(root)


@dataclass
class World:
    """Per-test upstreams, a workspace with a project, and the rendered script's pins."""

    up: Path
    ws: Path
    cwd: Path
    shas: dict[str, str]
    pins: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    submodules: dict[str, int] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    @property
    def script(self) -> Path:
        return self.ws / "proj" / "sync_deps.py"

    def render(self) -> str:
        text = render_sync_deps_script(self.pins, self.origins, self.submodules, self.branches)
        self.script.write_text(text)
        return text

    def run(
        self, *args: str, python: str = sys.executable, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [python, "-I", "-S", str(self.script), *args],
            cwd=self.cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def dep(self, name: str) -> Path:
        return self.ws / name

    def head(self, name: str) -> str:
        return git("rev-parse", "HEAD", cwd=self.dep(name))


@pytest.fixture
def world(
    upstream_template: tuple[Path, dict[str, str]], tmp_path: Path, local_submodules: None
) -> World:
    template, shas = upstream_template
    up = tmp_path / "up"
    shutil.copytree(template, up)
    ws = tmp_path / "ws"
    (ws / "proj").mkdir(parents=True)
    w = World(up=up, ws=ws, cwd=tmp_path / "cwd", shas=shas)
    w.pins = {"alpha": shas["alpha1"], "beta": shas["beta1"], "gamma": shas["gamma1"]}
    w.origins = {name: (up / f"{name}.git").as_uri() for name in w.pins}
    w.submodules = {"gamma": 1}
    w.branches = {"alpha": "main", "beta": "main", "gamma": "main"}
    w.render()
    return w


def is_detached(repo: Path) -> bool:
    return subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo).returncode != 0


def assert_synced(w: World) -> None:
    for name, sha in w.pins.items():
        assert w.head(name) == sha, name
        assert is_detached(w.dep(name)), name


# --- behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "python",
    [
        pytest.param(sys.executable, id="current"),
        pytest.param(
            PYTHON38,
            marks=pytest.mark.skipif(PYTHON38 is None, reason="no Python 3.8 here"),
            id="python3.8",
        ),
    ],
)
def test_fresh_run_clones_every_dep_detached_at_its_pin(world: World, python: str) -> None:
    """Given an empty workspace, when the script runs, every dep is cloned at its pin."""
    res = world.run(python=python)
    assert res.returncode == 0, res.stderr
    assert_synced(world)
    for name, sha in world.pins.items():
        assert f"{name}: cloned {sha[:12]}" in res.stdout
    assert world.head("alpha") == world.shas["alpha1"]  # not the branch tip
    assert sorted(p.name for p in world.ws.iterdir()) == ["alpha", "beta", "gamma", "proj"]
    assert res.stderr == ""


def test_second_run_needs_no_upstream(world: World) -> None:
    """Given synced deps, when the upstreams vanish, a second run still succeeds: no fetch."""
    assert world.run().returncode == 0
    world.up.rename(world.up.with_name("gone"))
    res = world.run()
    assert res.returncode == 0, res.stderr
    for name in world.pins:
        assert f"{name}: already at pin {world.pins[name][:12]}" in res.stdout
    assert_synced(world)


def test_moved_pin_is_fetched_without_saving_the_old_pin(world: World) -> None:
    """Given alpha synced at its first commit, when the pin moves on, the new commit is
    fetched; the old pin, which upstream holds, is not 'saved' as if it were user work."""
    assert world.run().returncode == 0
    world.pins["alpha"] = world.shas["alpha2"]
    world.render()
    res = world.run("--exclude-dep", "beta", "gamma")
    assert res.returncode == 0, res.stderr
    old, new = world.shas["alpha1"][:12], world.shas["alpha2"][:12]
    assert f"alpha: checked out {old} -> {new}" in res.stdout  # the clone had it already
    assert "saved" not in res.stdout
    assert world.head("alpha") == world.shas["alpha2"]
    assert git("branch", "--list", "xla-tasks/*", cwd=world.dep("alpha")) == ""


def test_exclude_dep_takes_several_values_and_repeats(world: World) -> None:
    res = world.run("--exclude-dep", "^bet", "zzz", "--exclude-dep", "amm")
    assert res.returncode == 0, res.stderr
    assert not world.dep("beta").exists()
    assert not world.dep("gamma").exists()
    assert world.head("alpha") == world.pins["alpha"]
    assert "beta: skipped (--exclude-dep)" in res.stdout


def test_submodules_are_checked_out_shallow(world: World) -> None:
    res = world.run("--exclude-dep", "alpha|beta")
    assert res.returncode == 0, res.stderr
    assert "submodules: 2 updated, 0 already there" in res.stdout
    gamma = world.dep("gamma")
    lib, other = gamma / "third_party" / "lib", gamma / "third_party" / "other"
    assert git("rev-parse", "HEAD", cwd=lib) == world.shas["lib2"]
    assert git("rev-parse", "HEAD", cwd=other) == world.shas["lib1"]  # not a tip
    assert git("rev-parse", "--is-shallow-repository", cwd=lib) == "true"
    again = world.run("--exclude-dep", "alpha|beta")
    assert "submodules: 0 updated, 2 already there" in again.stdout


def test_exclude_submodule_matches_name_colon_path(world: World) -> None:
    res = world.run("--exclude-dep", "alpha|beta", "--exclude-submodule", "^gamma:third_party/oth")
    assert res.returncode == 0, res.stderr
    assert "submodules: 1 updated, 0 already there, 1 excluded" in res.stdout
    gamma = world.dep("gamma")
    assert git("rev-parse", "HEAD", cwd=gamma / "third_party" / "lib") == world.shas["lib2"]
    assert list((gamma / "third_party" / "other").iterdir()) == []  # left uninitialised


def test_depth_one_gives_a_shallow_clone(world: World) -> None:
    world.pins["alpha"] = world.shas["alpha2"]
    world.render()
    res = world.run("--depth", "1", "--exclude-dep", "beta|gamma")
    assert res.returncode == 0, res.stderr
    alpha = world.dep("alpha")
    assert git("rev-parse", "--is-shallow-repository", cwd=alpha) == "true"
    assert git("rev-list", "--count", "HEAD", cwd=alpha) == "1"
    assert world.head("alpha") == world.shas["alpha2"]


def test_broken_url_fails_that_dep_only(world: World) -> None:
    """Given beta's URL pointing nowhere, the run exits 1 naming beta and the URL, the
    other deps still land, and no half clone of beta is left."""
    bad_url = (world.up / "missing.git").as_uri()
    world.origins["beta"] = bad_url
    world.render()
    res = world.run("--jobs", "1")
    assert res.returncode == 1
    failed = [line for line in res.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert failed[0].startswith("FAILED beta: clone from ")
    assert bad_url in failed[0]
    assert "does not appear to be a git repository" in failed[0]
    assert "Traceback" not in res.stderr
    assert world.head("alpha") == world.pins["alpha"]
    assert world.head("gamma") == world.pins["gamma"]
    assert sorted(p.name for p in world.ws.iterdir()) == ["alpha", "gamma", "proj"]


def test_dirty_tracked_file_blocks_the_move(world: World) -> None:
    """Given alpha with an uncommitted edit, when its pin moves, alpha is not touched and
    the failure names alpha and the file."""
    assert world.run().returncode == 0
    readme = world.dep("alpha") / "README"
    readme.write_text("my precious edit\n")
    world.pins["alpha"] = world.shas["alpha2"]
    world.render()
    res = world.run()
    assert res.returncode == 1
    assert "FAILED alpha:" in res.stderr
    assert "uncommitted changes" in res.stderr
    assert "README" in res.stderr
    assert world.head("alpha") == world.shas["alpha1"]
    assert readme.read_text() == "my precious edit\n"
    assert "beta: already at pin" in res.stdout


def test_orphan_detached_commit_is_saved_on_a_branch(world: World) -> None:
    """Given a commit made on alpha's detached HEAD, when the pin moves, that commit gets a
    branch named in the output before alpha moves."""
    assert world.run().returncode == 0
    alpha = world.dep("alpha")
    (alpha / "notes.txt").write_text("work in progress\n")
    git("add", "notes.txt", cwd=alpha)
    git("commit", "-q", "-m", "wip", cwd=alpha)
    orphan = world.head("alpha")
    world.pins["alpha"] = world.shas["alpha2"]
    world.render()
    res = world.run()
    assert res.returncode == 0, res.stderr
    branch = f"xla-tasks/saved-{orphan[:12]}"
    assert branch in res.stdout
    assert git("rev-parse", f"refs/heads/{branch}", cwd=alpha) == orphan
    assert world.head("alpha") == world.shas["alpha2"]


def test_existing_non_repo_path_is_refused(world: World) -> None:
    alpha = world.dep("alpha")
    alpha.mkdir()
    (alpha / "keep.txt").write_text("mine\n")
    res = world.run()
    assert res.returncode == 1
    assert f"FAILED alpha: {alpha} exists and is not a git repository" in res.stderr
    assert (alpha / "keep.txt").read_text() == "mine\n"
    assert world.head("beta") == world.pins["beta"]


@pytest.mark.parametrize("depth", [[], ["--depth", "1"]], ids=["full", "depth1"])
def test_falls_back_to_branches_when_server_refuses_sha_fetch(
    world: World, tmp_path: Path, depth: list[str]
) -> None:
    """Given a protocol v0 server (it refuses unadvertised commits) and pins that are no
    branch tip, the script still gets them through a branch fetch, submodules included."""
    v0 = {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_1": "protocol.version",
        "GIT_CONFIG_VALUE_1": "0",
    }
    probe = tmp_path / "probe"
    git("init", "-q", str(probe), cwd=tmp_path)
    refused = subprocess.run(
        ["git", "fetch", world.origins["alpha"], world.pins["alpha"]],
        cwd=probe,
        env={**os.environ, **v0},
        capture_output=True,
        text=True,
    )
    assert "unadvertised object" in refused.stderr  # the simulation really refuses
    res = world.run(*depth, env=v0)
    assert res.returncode == 0, res.stderr
    assert_synced(world)
    other = world.dep("gamma") / "third_party" / "other"
    assert git("rev-parse", "HEAD", cwd=other) == world.shas["lib1"]


# --- the rendered file as a module -------------------------------------------------------


def test_importing_the_script_has_no_side_effects(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in world.ws.iterdir())
    spec = importlib.util.spec_from_file_location("rendered_sync_deps", world.script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert world.pins == module.PINNED_VERSIONS
    assert world.origins == module.ORIGINS
    assert module.SUBMODULES == {"gamma": 1}
    assert world.branches == module.BRANCHES
    assert sorted(p.name for p in world.ws.iterdir()) == before
    assert capsys.readouterr() == ("", "")


def test_rendering_is_deterministic_and_diffs_by_line(world: World) -> None:
    forward = world.render()
    backward = render_sync_deps_script(
        dict(reversed(world.pins.items())),
        dict(reversed(world.origins.items())),
        {"beta": 0, **world.submodules},
        dict(reversed(world.branches.items())),
    )
    assert forward.encode() == backward.encode()
    assert world.script.read_text() == backward
    lines = forward.splitlines()
    assert lines[:2] == [SHEBANG, HEADER]
    assert f"    'alpha': '{world.pins['alpha']}'," in lines
    moved = render_sync_deps_script(
        {**world.pins, "alpha": world.shas["alpha2"]},
        world.origins,
        world.submodules,
        world.branches,
    )
    changed = [(a, b) for a, b in zip(lines, moved.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    assert forward != moved


def test_rendered_script_is_python38_compatible(world: World) -> None:
    source = world.script.read_text()
    ast.parse(source, feature_version=(3, 8))
    # vermin (test extras) has no __main__, so `python -m vermin` cannot run it; its console
    # script's function, run by this interpreter, fails loudly when vermin is missing.
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            "--no-config-file",
            "--target=3.8-",
            "--violations",
            "--no-tips",
            str(world.script),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--exclude-dep", "("], "--exclude-dep: invalid regex '('"),
        (["--exclude-submodule", "ok", "["], "--exclude-submodule: invalid regex '['"),
        (["--jobs", "x"], "--jobs: expected a positive integer, got 'x'"),
        (["--depth", "0"], "--depth: expected a positive integer, got '0'"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(world: World, args: list[str], needle: str) -> None:
    res = world.run(*args)
    assert res.returncode == 2
    assert res.stdout == ""
    assert len(res.stderr.splitlines()) == 1
    assert needle in res.stderr
    assert sorted(p.name for p in world.ws.iterdir()) == ["proj"]


def test_existing_clone_with_a_fork_origin_fetches_from_the_pinned_url(world: World) -> None:
    """Given alpha cloned with origin pointing at the user's fork (here: nowhere), when the
    pin moves, the commit comes from the pinned URL and origin's refs are left alone."""
    assert world.run("--exclude-dep", "beta|gamma").returncode == 0
    alpha = world.dep("alpha")
    fork = (world.up / "fork.git").as_uri()
    git("remote", "set-url", "origin", fork, cwd=alpha)
    git("update-ref", "-d", "refs/remotes/origin/main", cwd=alpha)
    from xla_tasks.demo.upstreams import commit

    newer = commit(world.up / "alpha.git", {"README": "alpha 3\n"}, "alpha 3")
    world.pins["alpha"] = newer
    world.render()
    res = world.run("--exclude-dep", "beta|gamma")
    assert res.returncode == 0, res.stderr
    assert "alpha: fetched" in res.stdout
    assert world.head("alpha") == newer
    assert git("remote", "get-url", "origin", cwd=alpha) == fork
    assert git("for-each-ref", "refs/remotes/origin", cwd=alpha) == ""  # the fork untouched


def test_empty_directory_is_cloned_into(world: World) -> None:
    world.dep("beta").mkdir()
    res = world.run("--exclude-dep", "alpha|gamma")
    assert res.returncode == 0, res.stderr
    assert f"beta: cloned {world.pins['beta'][:12]}" in res.stdout
    assert world.head("beta") == world.pins["beta"]


# --- template helpers, imported as a module ----------------------------------------------


def test_messages_never_show_a_password() -> None:
    from xla_tasks.pins import script_template as tpl

    url = "https://bot:s3cret@example.com/x.git"
    assert tpl.redact(url) == "https://***@example.com/x.git"
    assert tpl.redact("https://ghp_t0ken@github.com/o/r") == "https://***@github.com/o/r"
    stderr = f"warning: x\nfatal: unable to access '{url}/': 403\nfatal: later\n"
    engine = pytest.importorskip("xla_tasks.engine.process")
    assert (
        engine.first_error(stderr)
        == "fatal: unable to access 'https://***@example.com/x.git/': 403"
    )


@pytest.mark.parametrize(
    ("sha", "url", "branch", "message"),
    [
        ("0" * 39, "file:///x", None, "invalid pinned commit"),
        ("0" * 40, "--upload-pack=x", None, "invalid or missing URL"),
        ("0" * 40, "ext::sh -c x", None, "invalid or missing URL"),
        ("0" * 40, "", None, "invalid or missing URL"),
        ("0" * 40, "file:///x", "a:b", "invalid branch"),
        ("0" * 40, "file:///x", "-f", "invalid branch"),
    ],
)
def test_script_refuses_bad_data_before_calling_git(
    sha: str, url: str, branch: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xla_tasks.pins import script_template as tpl

    monkeypatch.setattr(tpl, "PINNED_VERSIONS", {"xla": sha})
    monkeypatch.setattr(tpl, "ORIGINS", {"xla": url})
    monkeypatch.setattr(tpl, "BRANCHES", {"xla": branch} if branch else {})
    assert message in (tpl.check_dep("xla") or "")


def test_falls_back_to_tags_for_a_pin_no_branch_reaches(world: World) -> None:
    """Given a v0 server and a pin below a release tag whose branch was deleted, the tag
    fetch brings it; the upstream tag lands beside, never over, a local tag."""
    from xla_tasks.demo.upstreams import commit

    assert world.run("--exclude-dep", "beta", "gamma").returncode == 0  # a clone, no tags yet
    bare = world.up / "alpha.git"
    pinned = commit(bare, {"rel.txt": "rc"}, "alpha rc", branch="rel", parent=world.shas["alpha2"])
    tagged = commit(bare, {"rel.txt": "1.0"}, "alpha 1.0", branch="rel")
    git("tag", "v1.0", tagged, cwd=bare)
    git("branch", "-D", "rel", cwd=bare)
    world.pins["alpha"] = pinned
    world.render()
    v0 = {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_1": "protocol.version",
        "GIT_CONFIG_VALUE_1": "0",
    }
    res = world.run("--exclude-dep", "beta", "gamma", env=v0)
    assert res.returncode == 0, res.stderr
    assert world.head("alpha") == pinned
    assert git("rev-parse", "refs/remotes/xla-tasks/tags/v1.0", cwd=world.dep("alpha")) == tagged


def test_the_engine_imports_dropped_are_exactly_those_a_parser_finds() -> None:
    """The script drops the engine's imports of itself by reading lines (fast enough for
    every sync's staleness check); a parser must agree on every engine module."""
    import ast

    from xla_tasks.engine import MODULES
    from xla_tasks.pins.sync_deps_script import _without_engine_imports, read_template

    for module in MODULES:
        source = read_template(f"engine/{module}.py")
        lines = source.split("\n")
        for node in reversed(ast.parse(source).body):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xla_tasks."):
                del lines[node.lineno - 1 : node.end_lineno]
        assert _without_engine_imports(source) == "\n".join(lines), module
