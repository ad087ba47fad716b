"""`roll SCHEDULE`: git deps to branch heads, packages to the newest version on a real index."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from simple_index import fixture_index_server, fixture_simple_index  # noqa: F401
from upstreams import Upstreams, git

from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.pins.sync_deps_toml import PIN_FILE, load_pin_file

REQUIREMENTS = """\
# runtime deps
numpy>=1.26
jaxlib==0.4.1 ; python_version >= "3.9"  # nightly jaxlib
iree-base-compiler[cpu]==3.0.0
"""


@pytest.fixture
def project(workspace: Path, upstreams: Upstreams) -> Path:
    """The leaf project cloned in the workspace, with its deps cloned beside it."""
    for name in ("openxla-pjrt-plugin", "iree", "jax", "xla"):
        git(workspace, "clone", "-q", upstreams.url(name), name)
    return workspace / "openxla-pjrt-plugin"


def _set_schedules(project: Path, schedules: dict[str, object]) -> None:
    """Rewrite the project's schedules, keeping its deps."""
    import tomllib

    data = tomllib.loads((project / PIN_FILE).read_text())
    data["schedules"] = schedules
    (project / PIN_FILE).write_text(tomli_w.dumps(data))


def _roll_xla_and_jaxlib(project: Path, index_url: str) -> None:
    """A nightly schedule moving xla and jaxlib (in requirements.txt) from `index_url`."""
    package = {"name": "jaxlib", "requirements": ["requirements.txt"], "index_url": index_url}
    _set_schedules(project, {"nightly": {"deps": ["xla"], "packages": [package]}})


def _snapshot(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}


def test_roll_with_nothing_to_move_says_so(project: Path, cli) -> None:
    before = _snapshot(project)
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 0, result.err
    assert "roll nightly: nothing to change" in result.out
    assert _snapshot(project) == before


def test_roll_moves_deps_to_branch_heads_and_rewrites_both_pin_files(
    project: Path, upstreams: Upstreams, cli
) -> None:
    old = upstreams.head("xla")
    upstreams.commit("xla", {"a.txt": "1"}, "xla: fourth")
    new = upstreams.commit("xla", {"b.txt": "2"}, "xla: fifth")
    git(project.parent / "xla", "fetch", "-q", "origin")  # the local clone knows both commits
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "Roll nightly: xla"
    assert f"- xla: {old[:12]}..{new[:12]} (2 commits)" in lines
    assert load_pin_file(project / PIN_FILE).deps["xla"].rev == new
    assert f"'xla': '{new}'" in (project / SCRIPT_FILE).read_text()
    assert cli("pin", "--check", cwd=project).code == 0


def test_roll_dry_run_prints_summary_and_writes_nothing(
    project: Path, upstreams: Upstreams, cli
) -> None:
    upstreams.commit("jax", {"x.py": "x"}, "jax: more")
    before = _snapshot(project)
    result = cli("roll", "nightly", "--dry-run", cwd=project)
    assert result.code == 0, result.err
    assert "(dry run: nothing written) Roll nightly: jax" in result.out
    assert _snapshot(project) == before


def test_roll_packages_from_a_real_simple_index(project: Path, simple_index, cli) -> None:
    (project / "requirements.txt").write_text(REQUIREMENTS)
    _set_schedules(
        project,
        {
            "nightly": {
                "deps": [],
                "packages": [
                    {
                        "name": "jaxlib",
                        "requirements": ["requirements.txt"],
                        "index_url": simple_index.index_url,
                    },
                    {
                        "name": "iree-base-compiler",
                        "requirements": ["requirements.txt"],
                        "index_url": simple_index.index_url,
                        "pre": True,
                    },
                    {
                        "name": "onlypre",
                        "requirements": ["requirements.txt"],
                        "index_url": simple_index.index_url,
                        "pre": True,
                    },
                ],
            }
        },
    )
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 0, result.err
    assert "- jaxlib: 0.4.1 -> 0.4.10 in requirements.txt" in result.out  # not rc, not yanked
    assert "- iree-base-compiler: 3.0.0 -> 3.2.0rc20250101 in requirements.txt" in result.out
    assert "- onlypre: (not pinned) -> 0.1.0rc1 in requirements.txt" in result.out
    assert (project / "requirements.txt").read_text() == (
        "# runtime deps\n"
        "numpy>=1.26\n"
        'jaxlib==0.4.10 ; python_version >= "3.9"  # nightly jaxlib\n'
        "iree-base-compiler[cpu]==3.2.0rc20250101\n"
        "onlypre==0.1.0rc1\n"
    )
    again = cli("roll", "nightly", cwd=project)
    assert "nothing to change" in again.out


def test_roll_json_gives_the_moves_as_data(
    project: Path, upstreams: Upstreams, simple_index, cli
) -> None:
    (project / "requirements.txt").write_text("jaxlib==0.4.1\n")
    _roll_xla_and_jaxlib(project, simple_index.index_url)
    new = upstreams.commit("xla", {"n.txt": "n"})
    data = cli("roll", "nightly", "--json", cwd=project).json()
    assert data["ok"] is True
    assert data["data"]["deps"][0]["name"] == "xla"
    assert data["data"]["deps"][0]["new"] == new
    assert data["data"]["packages"] == [
        {
            "name": "jaxlib",
            "old": "0.4.1",
            "new": "0.4.10",
            "file": "requirements.txt",
            "appended": False,
        }
    ]


def test_roll_unknown_schedule_lists_known_ones(project: Path, cli) -> None:
    before = _snapshot(project)
    result = cli("roll", "weekly", cwd=project)
    assert result.code == 1
    assert "unknown schedule 'weekly'" in result.err
    assert "known: nightly" in result.err
    assert _snapshot(project) == before


def test_roll_unreachable_dep_names_it_and_writes_nothing(
    project: Path, upstreams: Upstreams, cli
) -> None:
    upstreams.commit("jax", {"x.py": "x"})
    upstreams.break_url("xla")
    before = _snapshot(project)
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 1
    assert f"xla: ls-remote branch main from {upstreams.url('xla')} failed" in result.err
    assert _snapshot(project) == before


def test_roll_missing_branch_names_dep_url_and_branch(
    project: Path, upstreams: Upstreams, cli
) -> None:
    text = (project / PIN_FILE).read_text()
    start = text.index("[deps.xla]")
    text = text[:start] + text[start:].replace('branch = "main"', 'branch = "release"', 1)
    (project / PIN_FILE).write_text(text)
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 1
    assert f"xla: ls-remote from {upstreams.url('xla')} failed: branch 'release' not found" in (
        result.err
    )


def test_roll_refuses_hashed_requirements_and_writes_nothing(
    project: Path, upstreams, simple_index, cli
) -> None:
    (project / "requirements.txt").write_text("jaxlib==0.4.1 --hash=sha256:00\n")
    _roll_xla_and_jaxlib(project, simple_index.index_url)
    upstreams.commit("xla", {"n.txt": "n"})
    before = _snapshot(project)
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 1
    assert "requirements.txt:1" in result.err
    assert "hash" in result.err
    assert _snapshot(project) == before


def test_roll_missing_requirements_file_is_an_error(project: Path, simple_index, cli) -> None:
    _set_schedules(
        project,
        {
            "nightly": {
                "deps": [],
                "packages": [
                    {
                        "name": "jaxlib",
                        "requirements": ["reqs/missing.txt"],
                        "index_url": simple_index.index_url,
                    }
                ],
            }
        },
    )
    before = _snapshot(project)
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 1
    assert "requirements file not found: reqs/missing.txt" in result.err
    assert _snapshot(project) == before


def test_roll_schedule_naming_an_unpinned_dep_is_a_located_error(project: Path, cli) -> None:
    _set_schedules(project, {"nightly": {"deps": ["tensorflow"]}})
    result = cli("roll", "nightly", cwd=project)
    assert result.code == 1
    assert "schedules.nightly.deps: unknown dep 'tensorflow'" in result.err
