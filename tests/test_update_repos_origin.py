"""`update-repos`: an `origin` is the registry's repo however its URL is spelled, another
repo gets a note; NAMES narrow what `-a` selects (contract 5.7)."""

from __future__ import annotations

from pathlib import Path

from upstreams import Upstreams, git

ORIGIN_NOTE = "add the official repo as remote 'upstream' to update from it"


def _clone(upstreams: Upstreams, name: str, dest: Path, origin: str) -> Path:
    git(dest.parent, "clone", "--quiet", upstreams.url(name), str(dest))
    git(dest, "remote", "set-url", "origin", origin)
    return dest


def _notes(result, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return next(o["notes"] for o in result.json()["outcomes"] if o["name"] == name)


def test_an_origin_spelled_otherwise_is_the_registry_repo_and_gets_no_note(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    """The registry says file:///.../xla.git; the clone's origin is the same repo's path
    with a trailing `/`."""
    xla = _clone(upstreams, "xla", workspace / "xla", str(upstreams.path("xla")) + "/")
    new = upstreams.commit("xla", {"new.cc": "// new\n"}, "xla: new")

    result = cli("update-repos", "--json", cwd=xla)

    assert result.code == 0, result.err
    assert git(xla, "rev-parse", "main") == new
    assert not any(ORIGIN_NOTE in note for note in _notes(result, "xla"))


def test_an_origin_naming_another_repo_is_named_in_a_note(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    fork = upstreams.fork("xla")
    xla = _clone(upstreams, "xla", workspace / "xla", fork)

    result = cli("update-repos", "--json", cwd=xla)

    assert result.code == 0, result.err
    (note,) = [note for note in _notes(result, "xla") if ORIGIN_NOTE in note]
    assert note.startswith(f"origin is {fork}, not the registry's {upstreams.url('xla')}")


def test_names_with_all_update_only_those_of_the_selection(
    workspace: Path, upstreams: Upstreams, cli
) -> None:
    xla = _clone(upstreams, "xla", workspace / "xla", upstreams.url("xla"))
    jax = _clone(upstreams, "jax", workspace / "jax", upstreams.url("jax"))
    xla_before = git(xla, "rev-parse", "main")
    upstreams.commit("xla", {"d.txt": "d\n"}, "xla: d")
    new_jax = upstreams.commit("jax", {"c.txt": "c\n"}, "jax: c")

    result = cli("update-repos", "-a", "jax", "--json", cwd=workspace)

    assert result.code == 0, result.err
    assert result.json()["data"]["selected"] == ["jax"]
    assert git(jax, "rev-parse", "main") == new_jax
    assert git(xla, "rev-parse", "main") == xla_before
