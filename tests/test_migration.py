"""Teams that still run the older tools (contract 5.7): their files, read and migrated.

The fixtures under tests/data/legacy/ are shaped like the files those tools write
(openxla-workspace's and shark-workspace's `sync_deps.py`, pip-compile's hashed lock); each
test points their pins at the test's real upstreams.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomli_w
from simple_index import fixture_index_server, fixture_simple_index  # noqa: F401
from syncing import PROJECT, clone_project, demo_pins, history
from upstreams import Upstreams, git, head

from xla_tasks.errors import ConfigError
from xla_tasks.pins.project import check_pin_files, render_for
from xla_tasks.pins.sync_deps_toml import dump_pins, load_pin_file

DATA = Path(__file__).parent / "data" / "legacy"


def fixture_text(name: str, pins: dict[str, tuple[str, str]]) -> str:
    """A fixture file with each dep's rev and URL replaced by `pins` (name -> (rev, url))."""
    text = (DATA / name).read_text()
    for dep, (rev, url) in pins.items():
        text = re.sub(rf'("{re.escape(dep)}": )"[0-9a-f]{{40}}"', rf'\1"{rev}"', text)
        text = re.sub(rf'("{re.escape(dep)}": )"https://[^"]+"', rf'\1"{url}"', text)
    return text


def old_tool_script(upstreams: Upstreams, **revs: str) -> str:
    """What `openxla-workspace pin` writes, at the demo pins moved by `revs`."""
    pins = {name: (rev, url) for name, (rev, url, _) in demo_pins(upstreams).items()}
    for name, rev in revs.items():
        pins[name] = (rev, pins[name][1])
    return fixture_text("openxla-workspace.sync_deps.py", pins)


def both_files(project: Path) -> tuple[bytes, bytes]:
    return (project / "sync_deps.toml").read_bytes(), (project / "sync_deps.py").read_bytes()


@pytest.fixture
def project(workspace: Path, upstreams: Upstreams, cli) -> Path:
    """The plugin with sync_deps.toml and its generated sync_deps.py, deps synced."""
    project = clone_project(upstreams, workspace)
    assert cli("pin", "--from-toml", cwd=project).code == 0
    assert cli("sync", cwd=project).code == 0
    return project


@pytest.fixture
def rewritten(project: Path, upstreams: Upstreams) -> Path:
    """A teammate moved xla with openxla-workspace: its format, new xla pin; TOML untouched."""
    xla_second = history(upstreams, "xla")[1]
    (project / "sync_deps.py").write_text(old_tool_script(upstreams, xla=xla_second))
    return project


# -- 1. a sync_deps.py rewritten by another tool --------------------------------------------


def test_sync_refuses_a_script_the_old_tool_rewrote_naming_both_files_and_the_dep(
    rewritten: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla_before = head(workspace / "xla")
    files_before = both_files(rewritten)

    result = cli("sync", cwd=rewritten)

    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line]
    assert len(lines) == 1
    assert "Traceback" not in result.err
    assert str(rewritten / "sync_deps.py") in result.err
    assert str(rewritten / "sync_deps.toml") in result.err
    second, third = history(upstreams, "xla")[1:3]
    assert f"xla (sync_deps.py {second[:12]}, sync_deps.toml {third[:12]})" in result.err
    assert "iree" not in result.err.split("differ from")[1].split(";")[0]
    assert "xla-tasks pin --from-script" in result.err
    assert "xla-tasks pin --from-toml" in result.err
    assert head(workspace / "xla") == xla_before
    assert both_files(rewritten) == files_before


@pytest.mark.parametrize("argv", [["pin"], ["roll", "nightly", "--dry-run"], ["pin", "--check"]])
def test_roll_and_pin_refuse_the_rewritten_script_too(rewritten: Path, argv, cli) -> None:
    before = both_files(rewritten)

    result = cli(*argv, cwd=rewritten)

    assert result.code == 1
    assert "rewritten by another tool" in result.err
    assert "xla (sync_deps.py" in result.err
    assert both_files(rewritten) == before


def test_status_warns_about_the_rewritten_script_and_still_reports(rewritten: Path, cli) -> None:
    result = cli("status", cwd=rewritten)

    assert result.code == 0, result.err
    assert "warning:" in result.err
    assert "rewritten by another tool" in result.err
    assert "xla" in result.out


def test_pin_from_script_takes_the_script_pins_and_regenerates_it(
    rewritten: Path, upstreams: Upstreams, cli
) -> None:
    second, third = history(upstreams, "xla")[1:3]

    result = cli("pin", "--from-script", cwd=rewritten)

    assert result.code == 0, result.err
    assert f"xla: {third[:12]} -> {second[:12]}" in result.out
    pins = load_pin_file(rewritten / "sync_deps.toml")
    assert pins.deps["xla"].rev == second
    assert pins.deps["iree"].submodules is True
    assert sorted(pins.schedules) == ["nightly"]  # the TOML's own settings are kept
    assert check_pin_files(rewritten) is None
    assert cli("sync", cwd=rewritten).code == 0


def test_pin_from_toml_regenerates_the_script_and_keeps_the_toml(
    rewritten: Path, upstreams: Upstreams, cli
) -> None:
    toml_before = (rewritten / "sync_deps.toml").read_bytes()

    result = cli("pin", "--from-toml", cwd=rewritten)

    assert result.code == 0, result.err
    assert (rewritten / "sync_deps.toml").read_bytes() == toml_before
    assert check_pin_files(rewritten) is None
    assert history(upstreams, "xla")[2] in (rewritten / "sync_deps.py").read_text()


@pytest.mark.parametrize("flag", ["--from-script", "--from-toml"])
def test_the_ways_out_write_nothing_on_dry_run(rewritten: Path, flag: str, cli) -> None:
    before = both_files(rewritten)

    result = cli("pin", flag, "--dry-run", cwd=rewritten)

    assert result.code == 0, result.err
    assert "would write" in result.out
    assert both_files(rewritten) == before


def test_the_two_ways_out_exclude_each_other_and_other_flags(rewritten: Path, cli) -> None:
    both = cli("pin", "--from-script", "--from-toml", cwd=rewritten)
    with_add = cli("pin", "--from-toml", "--add", "jax", cwd=rewritten)

    assert both.code == 1
    assert "exclude each other" in both.err
    assert with_add.code == 1
    assert "cannot be combined with --add" in with_add.err


def test_script_rewritten_with_the_same_pins_is_only_stale(
    project: Path, upstreams: Upstreams, cli
) -> None:
    (project / "sync_deps.py").write_text(old_tool_script(upstreams))

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert "is stale" in result.err


def test_sync_with_a_stale_generated_script_uses_the_toml_and_warns_to_pin(
    project: Path, workspace: Path, upstreams: Upstreams, cli
) -> None:
    second, third = history(upstreams, "xla")[1:3]
    toml = project / "sync_deps.toml"
    toml.write_text(toml.read_text().replace(third, second))
    script_before = (project / "sync_deps.py").read_bytes()

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert head(workspace / "xla") == second
    assert "sync_deps.py is stale" in result.err
    assert "xla (sync_deps.py" in result.err
    assert "run `xla-tasks pin --from-toml`" in result.err
    assert (project / "sync_deps.py").read_bytes() == script_before
    assert cli("pin", "--from-toml", cwd=project).code == 0
    assert check_pin_files(project) is None


def test_old_tool_script_beside_a_toml_that_cannot_be_read_is_refused(project: Path, cli) -> None:
    (project / "sync_deps.py").write_text("PINNED_VERSIONS = load_pins()\n")

    result = cli("sync", cwd=project)

    assert result.code == 1
    assert "cannot be read as data" in result.err
    assert "xla-tasks pin --from-toml" in result.err


def test_our_stale_script_with_exclusions_is_not_taken_for_another_tools(
    project: Path, upstreams: Upstreams, cli
) -> None:
    toml = project / "sync_deps.toml"
    text = toml.read_text().replace(
        "submodules = true\n", 'submodules = true\nexclude_submodules = ["^docs$"]\n', 1
    )
    toml.write_text(text)
    assert cli("pin", "--from-toml", cwd=project).code == 0
    second, third = history(upstreams, "xla")[1:3]
    toml.write_text(toml.read_text().replace(third, second))

    result = cli("sync", cwd=project)

    assert result.code == 0, result.err
    assert "is stale" in result.err
    assert "rewritten" not in result.err


def test_lost_toml_is_rebuilt_from_our_script(project: Path, upstreams: Upstreams, cli) -> None:
    pins_before = load_pin_file(project / "sync_deps.toml").deps
    (project / "sync_deps.toml").unlink()
    failed = cli("sync", cwd=project)
    assert "xla-tasks pin --from-script" in failed.err

    result = cli("pin", "--from-script", cwd=project)

    assert result.code == 0, result.err
    assert load_pin_file(project / "sync_deps.toml").deps == pins_before
    assert check_pin_files(project) is None


# -- 2. SUBMODULES as a set, EXCLUDED_SUBMODULES --------------------------------------------


def test_pin_migrates_a_submodules_set_and_excluded_submodules(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    project = workspace / "amd-aie"
    project.mkdir()
    git(project, "init", "--quiet")
    git(workspace, "clone", "--quiet", upstreams.url("iree"), "iree")
    script = project / "sync_deps.py"
    script.write_text(
        fixture_text(
            "shark-workspace-sets.sync_deps.py",
            {"iree": (upstreams.head("iree"), upstreams.url("iree"))},
        )
    )

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    dep = load_pin_file(project / "sync_deps.toml").deps["iree"]
    assert dep.submodules is True
    assert dep.exclude_submodules == (r"^third_party/stablehlo$", r"^third_party/torch\-mlir$")
    assert (
        'exclude_submodules = [\n    "^third_party/stablehlo$",'
        in (project / "sync_deps.toml").read_text()
    )
    assert not (project / "EXECUTED").exists()


def test_exclude_submodules_round_trips_canonically(tmp_path: Path) -> None:
    path = tmp_path / "sync_deps.toml"
    path.write_text(
        'schema = 1\n[deps.pytorch]\nrev = "' + "a" * 40 + '"\nurl = "https://x/p.git"\n'
        'submodules = true\nexclude_submodules = ["third_party/fbgemm/.*asmjit"]\n'
    )

    pins = load_pin_file(path)

    assert pins.deps["pytorch"].exclude_submodules == ("third_party/fbgemm/.*asmjit",)
    path.write_text(dump_pins(pins))
    assert load_pin_file(path) == pins
    assert "exclude_submodules" not in dump_pins(pins).split("[deps.pytorch]")[0]


def test_exclude_submodules_with_a_bad_regex_names_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "sync_deps.toml"
    path.write_text(
        'schema = 1\n[deps.iree]\nrev = "' + "a" * 40 + '"\nurl = "https://x/i.git"\n'
        'exclude_submodules = ["third_party/(llvm"]\n'
    )

    with pytest.raises(ConfigError, match=r"sync_deps\.toml:5: deps\.iree\.exclude_submodules"):
        load_pin_file(path)


def test_generated_script_of_pins_with_exclusions_is_current(tmp_path: Path) -> None:
    path = tmp_path / "sync_deps.toml"
    path.write_text(
        'schema = 1\n[deps.iree]\nrev = "' + "a" * 40 + '"\nurl = "https://x/i.git"\n'
        'submodules = true\nexclude_submodules = ["^third_party/llvm$"]\n'
    )
    (tmp_path / "sync_deps.py").write_text(render_for(load_pin_file(path)))

    assert check_pin_files(tmp_path) is None


# -- 5. openxla-workspace's schedules come along --------------------------------------------


def test_migrating_the_plugin_writes_the_schedules_openxla_workspace_had(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    project = clone_project(upstreams, workspace)
    for name in ("iree", "jax", "xla"):
        git(workspace, "clone", "--quiet", upstreams.url(name), name)
    git(project, "rm", "--quiet", "sync_deps.toml")
    (project / "requirements.txt").write_text("iree-compiler==20230524.527\njaxlib==0.4.12\n")
    (project / "sync_deps.py").write_text(old_tool_script(upstreams))

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "added schedule(s) continuous, nightly" in result.out
    schedules = load_pin_file(project / "sync_deps.toml").schedules
    assert schedules["continuous"].deps == ("iree",)
    assert schedules["nightly"].deps == ("iree", "xla", "jax")
    rules = {rule.name: rule for rule in schedules["nightly"].packages}
    assert rules["iree-compiler"].find_links == ("https://iree.dev/pip-release-links.html",)
    assert rules["jaxlib"].find_links == (
        "https://storage.googleapis.com/jax-releases/jaxlib_nightly_releases.html",
    )
    assert all(rule.pre and rule.requirements == ("requirements.txt",) for rule in rules.values())
    roll = cli("roll", "continuous", "--dry-run", cwd=project)
    assert roll.code == 0, roll.err
    assert "unknown schedule" not in roll.err


def test_migrating_an_unknown_project_adds_no_schedules(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    project = workspace / "my-project"
    project.mkdir()
    git(project, "init", "--quiet")
    git(workspace, "clone", "--quiet", upstreams.url("xla"), "xla")
    (project / "sync_deps.py").write_text(
        fixture_text(
            "openxla-workspace.sync_deps.py",
            {"xla": (upstreams.head("xla"), upstreams.url("xla"))},
        )
        .replace('  "iree": "c35c88e66f736bbd7da84bf099e17a7bce7de5db",\n', "")
        .replace('  "jax": "364a245ab2fcc0a7c5187234e94c1a3a8d464c39"\n', "")
        .replace(
            '"xla": "' + upstreams.head("xla") + '",', '"xla": "' + upstreams.head("xla") + '"'
        )
    )

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert load_pin_file(project / "sync_deps.toml").schedules == {}
    assert PROJECT not in result.out


# -- 3. roll never adds an unhashed line to a --hash lock file ------------------------------


def test_roll_refuses_to_append_to_a_hashed_lock_file_naming_it(
    workspace: Path, upstreams: Upstreams, simple_index, cli
) -> None:
    project = clone_project(upstreams, workspace)
    requirements = project / "requirements.txt"
    requirements.write_bytes((DATA / "requirements-hashed.txt").read_bytes())
    data = tomllib_loads((project / "sync_deps.toml").read_text())
    data["schedules"] = {
        "nightly": {
            "deps": [],
            "packages": [
                {
                    "name": "jaxlib",
                    "requirements": ["requirements.txt"],
                    "index_url": simple_index.index_url,
                }
            ],
        }
    }
    (project / "sync_deps.toml").write_text(tomli_w.dumps(data))
    before = requirements.read_bytes(), (project / "sync_deps.toml").read_bytes()

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 1
    assert f"{requirements}: jaxlib is not in this file" in result.err
    assert "--hash (line 8)" in result.err
    assert "pip-compile --generate-hashes" in result.err
    assert (requirements.read_bytes(), (project / "sync_deps.toml").read_bytes()) == before


def tomllib_loads(text: str) -> dict[str, object]:
    import tomllib

    return tomllib.loads(text)


# -- 4 and 8. update-repos in the PyTorch/XLA layout ----------------------------------------


@pytest.fixture
def pytorch_layout(isolated_env: Path, upstreams: Upstreams) -> Path:
    """pytorch, pytorch/xla and vision cloned as PyTorch/XLA's CONTRIBUTING.md has them (fork
    setups, each on a feature branch), no xla-workspace.toml; every upstream moved on since."""
    from test_update_repos import clone_fork_setup

    for name in ("pytorch", "vision", "torch_xla"):
        upstreams.create(name)
    upstreams.commit("torch_xla", {"setup.py": "\n"}, "torch_xla: start", branch="master")
    root = isolated_env / "src"
    root.mkdir()
    clone_fork_setup(upstreams, "pytorch", root / "pytorch")
    clone_fork_setup(upstreams, "torch_xla", root / "pytorch" / "xla", branch="master")
    clone_fork_setup(upstreams, "vision", root / "vision")
    upstreams.commit("pytorch", {"torch/new.py": "x = 1\n"}, "pytorch: new")
    upstreams.commit("torch_xla", {"torch_xla/new.py": "y = 1\n"}, "xla: new", "master")
    upstreams.commit("vision", {"NEWS": "v\n"}, "vision: news")
    return root


def updated(upstreams: Upstreams, root: Path) -> list[str]:
    """Which of the three local tracking branches now match upstream."""
    from test_update_repos import local

    repos = {"pytorch": ("pytorch", "main"), "vision": ("vision", "main")}
    repos["torch_xla"] = ("pytorch/xla", "master")
    return [
        name
        for name, (path, branch) in repos.items()
        if local(root / path, branch) == upstreams.head(name, branch)
    ]


def test_update_repos_base_vision_also_updates_torch_xla_in_that_order(
    pytorch_layout: Path, upstreams: Upstreams, cli
) -> None:
    result = cli("update-repos", "-b", "vision", "--json", cwd=pytorch_layout / "vision")

    assert result.code == 0, result.err
    assert [o["name"] for o in result.json()["outcomes"]] == ["vision", "torch_xla"]
    assert updated(upstreams, pytorch_layout) == ["vision", "torch_xla"]


def test_update_repos_without_a_workspace_file_finds_the_layout_and_says_how_to_keep_it(
    pytorch_layout: Path, upstreams: Upstreams, cli
) -> None:
    from test_update_repos import branch_of, fork_head

    result = cli("update-repos", "-a", cwd=pytorch_layout / "pytorch" / "xla")
    in_order = cli("update-repos", "-a", "--json", cwd=pytorch_layout / "pytorch" / "xla")

    assert result.code == 0, result.err
    lines = result.out.splitlines()  # each repo's line as it lands, the headline last
    assert f"run `xla-tasks init --preset pytorch-xla` in {pytorch_layout}" in lines[-1]
    # the preset's OpenXLA xla (torch_xla's WORKSPACE pin) is not cloned here: a note
    assert sorted(line.split(":")[0] for line in lines[:-1]) == [
        "pytorch",
        "torch_xla",
        "vision",
        "xla",
    ]
    assert any(line.startswith("xla: skipped: not cloned") for line in lines), lines
    assert [o["name"] for o in in_order.json()["outcomes"]] == [
        "pytorch",
        "vision",
        "torch_xla",
        "xla",
    ]
    assert updated(upstreams, pytorch_layout) == ["pytorch", "vision", "torch_xla"]
    assert fork_head(upstreams, "torch_xla", "master") == upstreams.head("torch_xla", "master")
    assert branch_of(pytorch_layout / "pytorch" / "xla") == "feature"


def test_the_suggested_init_makes_the_layout_a_workspace(
    pytorch_layout: Path, upstreams: Upstreams, cli
) -> None:
    assert cli("init", "--preset", "pytorch-xla", cwd=pytorch_layout).code == 0

    result = cli("update-repos", cwd=pytorch_layout / "pytorch" / "xla")

    assert result.code == 0, result.err
    assert "init --preset" not in result.out
    assert updated(upstreams, pytorch_layout) == ["torch_xla"]


def test_checkout_in_the_layout_without_workspace_file_hints_the_preset_init(
    pytorch_layout: Path, cli
) -> None:
    result = cli("checkout", "vision", cwd=pytorch_layout / "pytorch")

    assert result.code == 1
    assert f"run `xla-tasks init --preset pytorch-xla` in {pytorch_layout} first" in result.err


def test_update_repos_outside_any_layout_still_asks_for_a_workspace(
    isolated_env: Path, upstreams: Upstreams, cli
) -> None:
    git(isolated_env, "clone", "--quiet", upstreams.url("xla"), "lonely")

    result = cli("update-repos", cwd=isolated_env / "lonely")

    assert result.code == 1
    assert "no xla-workspace.toml" in result.err


# -- 6. a workspace openxla-workspace made --------------------------------------------------


@pytest.fixture
def old_workspace(isolated_env: Path, upstreams: Upstreams) -> Path:
    """What `openxla-workspace init` left: its marker file, and the repos it checked out."""
    root = isolated_env / "oxws"
    root.mkdir()
    (root / ".openxla_workspace.json").write_text('{\n  "version": 0\n}\n')
    for name in ("openxla-pjrt-plugin", "iree", "jax", "xla"):
        git(root, "clone", "--quiet", upstreams.url(name), name)
    return root


def test_an_openxla_workspace_is_found_like_ours(old_workspace: Path, cli) -> None:
    result = cli("status", "--json", cwd=old_workspace / "xla")

    assert result.code == 0, result.err
    data = result.json()["data"]
    assert data["workspace"] == str(old_workspace)
    names = [row["name"] for row in data["repos"]]
    assert {"iree", "jax", "xla", "stablehlo", "openxla-pjrt-plugin"} <= set(names)


def test_init_in_an_openxla_workspace_writes_ours_and_keeps_the_old_file(
    old_workspace: Path, cli
) -> None:
    marker = (old_workspace / ".openxla_workspace.json").read_bytes()

    result = cli("init", cwd=old_workspace / "jax")

    assert result.code == 0, result.err
    assert f"created {old_workspace / 'xla-workspace.toml'} (preset openxla)" in result.out
    assert ".openxla_workspace.json is kept" in result.out
    assert (old_workspace / ".openxla_workspace.json").read_bytes() == marker
    assert not (old_workspace / "jax" / "xla-workspace.toml").exists()
    again = cli("init", cwd=old_workspace)
    assert "already in a workspace" in again.out


def test_pin_in_an_openxla_workspace_project_works_without_our_file(
    old_workspace: Path, upstreams: Upstreams, cli
) -> None:
    project = old_workspace / PROJECT
    git(project, "rm", "--quiet", "sync_deps.toml")
    (project / "sync_deps.py").write_text(old_tool_script(upstreams))

    result = cli("pin", cwd=project)

    assert result.code == 0, result.err
    assert "migrated legacy sync_deps.py" in result.out
    assert "continuous" in load_pin_file(project / "sync_deps.toml").schedules


# -- 7. every hint names a command that works where the user stands -------------------------


def hinted_command(err: str) -> list[str]:
    """The last `xla-tasks ...` command a message suggests, as argv."""
    return re.findall(r"`xla-tasks ([^`]+)`", err)[-1].split()


def test_pin_in_a_legacy_project_without_workspace_file_hints_sync_which_works(
    isolated_env: Path, upstreams: Upstreams, cli
) -> None:
    parent = isolated_env / "src"
    project = clone_project(upstreams, parent)
    git(project, "rm", "--quiet", "sync_deps.toml")
    (project / "sync_deps.py").write_text(old_tool_script(upstreams))
    for name in ("jax", "xla"):
        git(parent, "clone", "--quiet", upstreams.url(name), name)

    failed = cli("pin", cwd=project)

    assert failed.code == 1
    assert f"iree: not checked out at {parent / 'iree'}" in failed.err
    assert hinted_command(failed.err) == ["sync"]
    assert cli(*hinted_command(failed.err), cwd=project).code == 0
    assert cli("pin", cwd=project).code == 0


def test_pin_in_a_workspace_hints_checkout_which_works(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    project = clone_project(upstreams, workspace)
    for name in ("jax", "xla"):
        git(workspace, "clone", "--quiet", upstreams.url(name), name)

    failed = cli("pin", cwd=project)

    assert failed.code == 1
    assert hinted_command(failed.err) == ["checkout", "iree"]
    assert cli(*hinted_command(failed.err), cwd=project).code == 0
    assert cli("pin", cwd=project).code == 0


@pytest.mark.parametrize("argv", [["sync"], ["roll", "nightly"], ["pin"], ["pin", "--check"]])
def test_nothing_pinned_without_workspace_file_hints_init_then_add(
    isolated_env: Path, upstreams: Upstreams, argv, cli
) -> None:
    parent = isolated_env / "src"
    parent.mkdir()
    git(parent, "clone", "--quiet", upstreams.url("xla"), "xla")
    project = parent / "new-project"
    project.mkdir()
    git(project, "init", "--quiet")

    failed = cli(*argv, cwd=project)

    assert failed.code == 1
    assert f"run `xla-tasks init` in {parent}, then `xla-tasks pin --add NAME`" in failed.err
    assert cli("init", cwd=parent).code == 0
    assert cli("pin", "--add", "xla", cwd=project).code == 0
    assert load_pin_file(project / "sync_deps.toml").deps["xla"].rev == head(parent / "xla")


# -- pin --import: west and vcstool manifests -----------------------------------------------

FIXTURE_SHAS = {
    "xla": "97c308d02d26fafc57f6969040425988462db49c",
    "iree": "c35c88e66f736bbd7da84bf099e17a7bce7de5db",
    "jax": "364a245ab2fcc0a7c5187234e94c1a3a8d464c39",
}


def manifest_for(upstreams: Upstreams, name: str, dest: Path) -> Path:
    """A manifest fixture pointed at the test's upstreams and the demo pins."""
    text = (DATA / name).read_text()
    for dep, (rev, url, _) in demo_pins(upstreams).items():
        text = text.replace(FIXTURE_SHAS[dep], rev)
        text = re.sub(rf"https://github.com/[a-z-]+/{dep}\.git", url, text)
    base = upstreams.root.resolve().as_uri()
    text = re.sub(r"url-base: \S+", f"url-base: {base}", text)
    dest.write_text(text)
    return dest


@pytest.fixture
def new_project(workspace: Path) -> Path:
    project = workspace / "newproj"
    project.mkdir()
    git(project, "init", "--quiet")
    return project


@pytest.mark.parametrize("manifest", ["west.yml", "deps.repos"])
def test_pin_import_turns_a_manifest_into_pins_that_sync(
    new_project: Path, workspace: Path, upstreams: Upstreams, manifest: str, cli
) -> None:
    path = manifest_for(upstreams, manifest, new_project / manifest)

    result = cli("pin", "--import", str(path), cwd=new_project)

    assert result.code == 0, result.err
    assert f"imported 3 dep(s) from {path}" in result.out
    pins = load_pin_file(new_project / "sync_deps.toml")
    want = demo_pins(upstreams)
    assert {name: dep.rev for name, dep in pins.deps.items()} == {
        name: rev for name, (rev, _, _) in want.items()
    }
    assert pins.deps["iree"].submodules is (manifest == "west.yml")
    assert check_pin_files(new_project) is None
    synced = cli("sync", cwd=new_project)
    assert synced.code == 0, synced.err
    for name, (rev, _, _) in want.items():
        assert head(workspace / name) == rev


def test_pin_import_of_an_unfrozen_west_manifest_says_how_to_freeze_it(
    new_project: Path, upstreams: Upstreams, cli
) -> None:
    path = manifest_for(upstreams, "west.yml", new_project / "west.yml")
    path.write_text(path.read_text().replace(upstreams.head("iree"), "main"))

    result = cli("pin", "--import", str(path), cwd=new_project)

    assert result.code == 1
    assert f"{path}: manifest.projects.iree.revision: 'main' is not a commit id" in result.err
    assert "west manifest --freeze" in result.err
    assert not (new_project / "sync_deps.toml").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "repositories:\n  x:\n    type: git\n    url: ext::sh -c evil\n    version: "
            + "a" * 40,
            "repositories.x.url: invalid URL",
        ),
        ("repositories:\n  x:\n    type: svn\n", "only git repositories pin"),
        ("projects: []\n", "neither a west manifest"),
        ("manifest: [unclosed\n", "invalid YAML"),
        ("!!python/object/apply:os.system ['touch EXECUTED']\n", "invalid YAML"),
    ],
)
def test_pin_import_refuses_bad_manifests_in_one_line(
    new_project: Path, text: str, message: str, cli
) -> None:
    path = new_project / "bad.repos"
    path.write_text(text)

    result = cli("pin", "--import", str(path), cwd=new_project)

    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (new_project / "sync_deps.toml").exists()
    assert not (new_project / "EXECUTED").exists()


def test_our_rendered_exclusions_are_read_back_from_the_script(tmp_path: Path) -> None:
    from xla_tasks.pins.legacy_script import legacy_pins_from_text

    text = (
        'PINNED_VERSIONS = {"iree": "' + "a" * 40 + '"}\n'
        'ORIGINS = {"iree": "https://x/iree.git"}\n'
        'SUBMODULES = {"iree": 1}\n'
        'EXCLUDE_SUBMODULES = {\n    "iree": ["^third_party/llvm-project$", "docs"],\n}\n'
    )

    pins = legacy_pins_from_text(text, tmp_path / "sync_deps.py")

    assert pins.deps["iree"].exclude_submodules == ("^third_party/llvm-project$", "docs")
    bad = text.replace('"docs"', '"(docs"')
    with pytest.raises(ConfigError, match=r"sync_deps\.py:5: EXCLUDE_SUBMODULES\.iree"):
        legacy_pins_from_text(bad, tmp_path / "sync_deps.py")


@pytest.mark.parametrize("argv", [["pin"], ["pin", "--from-script"]])
def test_migrating_a_script_that_pins_the_project_itself_drops_that_pin(
    workspace: Path, upstreams: Upstreams, argv, cli
) -> None:
    """iree's own old sync_deps.py pinned "iree" beside xla and jax, as the plugin's does."""
    project = workspace / "iree"
    git(workspace, "clone", "--quiet", upstreams.url("iree"), "iree")
    for name in ("jax", "xla"):
        git(workspace, "clone", "--quiet", upstreams.url(name), name)
    pins = {name: (upstreams.head(name), upstreams.url(name)) for name in ("iree", "jax", "xla")}
    (project / "sync_deps.py").write_text(fixture_text("openxla-workspace.sync_deps.py", pins))

    result = cli(*argv, cwd=project)

    assert result.code == 0, result.err
    assert "dropped the pin of iree itself" in result.out
    assert sorted(load_pin_file(project / "sync_deps.toml").deps) == ["jax", "xla"]
    assert "iree:" not in result.out
    assert not (project / "EXECUTED").exists()
