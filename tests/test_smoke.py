from pathlib import Path

from upstreams import git


def test_checkout_clones_leaf_project_and_deps(workspace: Path, upstreams, cli) -> None:
    result = cli("checkout", "openxla-pjrt-plugin", cwd=workspace)
    assert result.code == 0, result.err
    for name in ("openxla-pjrt-plugin", "iree", "jax", "xla"):
        assert git(workspace / name, "rev-parse", "HEAD") == upstreams.head(name)
