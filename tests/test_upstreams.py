"""The tests' upstreams: a copy of the template is the same as a fresh build in its place."""

from __future__ import annotations

import shutil

from upstreams import Upstreams, git

from xla_tasks.demo.upstreams import UPSTREAMS, build_upstreams


def test_copied_upstreams_hold_the_commits_a_fresh_build_there_would(
    upstreams: Upstreams,
) -> None:
    """Given the test's upstreams (the template copied, its URL-bearing commits added), when
    the demo builds them afresh in the same folder, then every ref of every upstream names
    the same commit and the URLs are the same (the pins inside name this test's repos)."""
    copied = {name: git(upstreams.path(name), "for-each-ref") for name in UPSTREAMS}
    assert all(copied.values())
    shutil.rmtree(upstreams.root)
    assert build_upstreams(upstreams.root) == upstreams.urls
    fresh = {name: git(upstreams.path(name), "for-each-ref") for name in UPSTREAMS}
    assert copied == fresh
    pins = git(upstreams.path("openxla-pjrt-plugin"), "show", "main:sync_deps.toml")
    assert f'url = "{upstreams.url("xla")}"' in pins
