"""roll against hostile input (issue 9 items 3, 6, 7): misbehaving indexes on 127.0.0.1,
requirements paths into `.git` or out of the repo through links. Nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_index import fixture_hostile_index  # noqa: F401 (fixture)
from simple_index import SimpleIndex, fixture_index_server, fixture_simple_index  # noqa: F401
from test_roll import _set_schedules, _snapshot
from upstreams import Upstreams, git

from xla_tasks.errors import PackageIndexError
from xla_tasks.roll.packages import MAX_PAGE_BYTES, find_latest_version


@pytest.fixture(name="project")
def fixture_project(workspace: Path, upstreams: Upstreams) -> Path:
    """The leaf project cloned in the workspace (its deps are not needed here)."""
    git(workspace, "clone", "-q", upstreams.url("openxla-pjrt-plugin"), "openxla-pjrt-plugin")
    return workspace / "openxla-pjrt-plugin"


def _roll_jaxlib(project: Path, index_url: str, requirements: str = "requirements.txt") -> None:
    package = {"name": "jaxlib", "requirements": [requirements], "index_url": index_url}
    _set_schedules(project, {"nightly": {"packages": [package]}})


# -- 3: index reads are bounded in size and in time ---------------------------------------


def test_endless_index_page_fails_at_the_size_bound_naming_package_and_url(
    hostile_index: str,
) -> None:
    url = f"{hostile_index}/endless"
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=url)

    message = str(caught.value)
    assert message.startswith(f"jaxlib: cannot read {url}")
    assert f"page larger than {MAX_PAGE_BYTES // 2**20} MiB" in message


@pytest.mark.parametrize(
    ("source", "path", "bounds", "reason"),
    [
        # One link every 50 ms never trips a read timeout; the whole lookup is bounded.
        ("index_url", "/trickle", {"timeout": 5, "deadline": 1}, "not read within 1 s"),
        ("find_links", "/trickle/jaxlib/", {"timeout": 5, "deadline": 1}, "not read within 1 s"),
        # Each read waits at most the time left, not a whole `timeout` past the deadline.
        ("index_url", "/stall", {"timeout": 30, "deadline": 1}, "not read within 1 s"),
        ("index_url", "/stall", {"timeout": 0.5}, "no answer within 0.5 s"),
        ("index_url", "/loop", {}, "more than 10 redirects"),
        (
            "find_links",
            "/tofile/jaxlib.html",
            {},
            "redirected to file:///etc/passwd: not http(s)",
        ),
    ],
    ids=["trickle", "trickle-find-links", "stall-deadline", "stall-timeout", "loop", "to-file"],
)
def test_misbehaving_index_fails_in_one_line_naming_package_and_url(
    hostile_index: str, source: str, path: str, bounds: dict[str, float], reason: str
) -> None:
    url = f"{hostile_index}{path}"
    where = {"index_url": url} if source == "index_url" else {"find_links": [url]}
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", **where, **bounds)

    assert str(caught.value) == f"jaxlib: cannot read {url}: {reason}"


def test_javascript_links_are_never_taken_for_files(hostile_index: str) -> None:
    choice = find_latest_version("jaxlib", index_url=f"{hostile_index}/js")

    assert choice.version == "1.0"


def test_roll_from_an_endless_index_fails_and_writes_nothing(
    project: Path, hostile_index: str, cli
) -> None:
    (project / "requirements.txt").write_text("jaxlib==0.4.1\n")
    _roll_jaxlib(project, f"{hostile_index}/endless")
    before = _snapshot(project)

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 1
    assert f"FAILED jaxlib: cannot read {hostile_index}/endless: page larger than" in result.err
    assert _snapshot(project) == before


# -- 6 and 7: requirements files stay inside the repo and outside .git --------------------


def _assert_refused(result, says: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "sync_deps.toml" in result.err
    assert ": schedules.nightly.packages" in result.err
    assert says in result.err


def test_requirements_path_into_dot_git_is_refused_before_anything(
    project: Path, simple_index: SimpleIndex, cli
) -> None:
    _roll_jaxlib(project, simple_index.index_url, ".git/HEAD")
    head_before = (project / ".git" / "HEAD").read_bytes()
    before = _snapshot(project)

    result = cli("roll", "nightly", cwd=project)

    _assert_refused(result, "'.git/HEAD': must not be inside .git")
    assert (project / ".git" / "HEAD").read_bytes() == head_before
    assert _snapshot(project) == before
    assert simple_index.served == []  # refused before any lookup


def test_requirements_link_into_dot_git_is_refused(
    project: Path, simple_index: SimpleIndex, cli
) -> None:
    (project / "requirements.txt").symlink_to(".git/HEAD")
    _roll_jaxlib(project, simple_index.index_url)
    head_before = (project / ".git" / "HEAD").read_bytes()

    result = cli("roll", "nightly", cwd=project)

    _assert_refused(result, "requirements file requirements.txt leads into .git")
    assert (project / ".git" / "HEAD").read_bytes() == head_before


def test_requirements_link_leaving_the_repo_is_refused_and_nothing_copied(
    project: Path, simple_index: SimpleIndex, tmp_path: Path, cli
) -> None:
    outside = tmp_path / "outside-requirements.txt"
    outside.write_text("jaxlib==0.4.1\n")
    (project / "requirements.txt").symlink_to(outside)
    _roll_jaxlib(project, simple_index.index_url)
    before = _snapshot(project)

    result = cli("roll", "nightly", cwd=project)

    _assert_refused(result, "requirements file requirements.txt leads outside the repo")
    assert (project / "requirements.txt").is_symlink()
    assert outside.read_text() == "jaxlib==0.4.1\n"
    assert _snapshot(project) == before


def test_requirements_link_inside_the_repo_is_written_through(
    project: Path, simple_index: SimpleIndex, cli
) -> None:
    (project / "deps").mkdir()
    (project / "deps" / "requirements.txt").write_text("numpy\njaxlib==0.4.1\n")
    (project / "requirements.txt").symlink_to("deps/requirements.txt")
    _roll_jaxlib(project, simple_index.index_url)

    result = cli("roll", "nightly", cwd=project)

    assert result.code == 0, result.err
    assert "- jaxlib: 0.4.1 -> 0.4.10 in requirements.txt" in result.out
    assert (project / "requirements.txt").is_symlink()
    assert (project / "deps" / "requirements.txt").read_text() == "numpy\njaxlib==0.4.10\n"
