"""Is a dep's submodule tree complete? Every submodule its pin records, recursively, minus
the excluded ones, present and on its recorded commit (`status --check`).

Read from disk where the engine left the answer: a sync that walked the submodules in full
writes the pin's gitlinks to a memo in the dep's git dir, and a submodule's HEAD is a file.
git is asked (`.gitmodules` and the index) only for what the memo does not cover: no memo
for this pin (the dep was synced by another tool, or a sync was interrupted), or a nested
superproject that sync skipped (`--exclude-submodule` on that run).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xla_tasks.engine.disk import git_dir_of, read_head, read_memo
from xla_tasks.engine.pathregex import path_search


def submodule_problems(top: Path, rev: str, excludes: Sequence[str]) -> list[str]:
    """One line per submodule that is missing or off its recorded commit (empty: complete).

    `top` is the dep's work tree, on `rev`; `excludes` are the pin's `exclude_submodules`
    (regexes searched in the path relative to `top`; what is inside an excluded one is
    skipped with it, as sync does).
    """
    memo = _memo_links(top, rev)
    problems: list[str] = []
    pending = [(top, "")]
    while pending:
        sup, prefix = pending.pop()
        for full, sha in sorted(_children(sup, prefix, memo).items()):
            if any(path_search(pattern, full) for pattern in excludes):
                continue
            sub_git = git_dir_of(str(top / full))
            head = read_head(sub_git).sha if sub_git is not None else None
            if sub_git is None:
                problems.append(f"submodule {full} missing, recorded at {sha[:12]}")
            elif head != sha:
                at = head[:12] if head else "no commit"
                problems.append(f"submodule {full} at {at}, recorded at {sha[:12]}")
            else:
                pending.append((top / full, full + "/"))
    return sorted(problems)


def _memo_links(top: Path, rev: str) -> dict[str, str] | None:
    """The gitlinks the engine recorded when it synced this dep to `rev` (None: no memo)."""
    git_dir = git_dir_of(str(top))
    if git_dir is None:
        return None
    pin, links, _ = read_memo(git_dir)
    return links if pin == rev else None


def _children(sup: Path, prefix: str, memo: dict[str, str] | None) -> dict[str, str]:
    """The submodules directly inside `sup` (paths from the dep's top) and their commits."""
    if memo is not None:
        below = {full: sha for full, sha in memo.items() if full.startswith(prefix)}
        direct = {
            full: sha
            for full, sha in below.items()
            if not any(full.startswith(other + "/") for other in below if other != full)
        }
        if direct or not (sup / ".gitmodules").is_file():
            return direct
    if not (sup / ".gitmodules").is_file():
        return {}
    from xla_tasks.engine.submodules import read_submodules

    return {sub.full: sub.sha for sub in read_submodules(str(sup), prefix)}
