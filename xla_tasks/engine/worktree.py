"""The user's work in a tree, which the engine must never lose: what `git status` says is
changed (one parser of porcelain v2 for the whole package), and which operation (rebase,
merge, bisect, ...) is in progress.
"""

import os
from typing import List, NamedTuple, Optional, Tuple

from xla_tasks.engine.process import git

_IN_PROGRESS = (  # (file or folder in the git dir, what the user is in the middle of)
    ("rebase-merge", "rebase"),
    ("rebase-apply/applying", "am"),
    ("rebase-apply", "rebase"),
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
)


def in_progress(git_dir: str) -> Optional[str]:
    """The operation the user is in the middle of (rebase, merge, bisect...), if any."""
    for marker, what in _IN_PROGRESS:
        if os.path.exists(os.path.join(git_dir, marker)):
            return what
    return None


class Status(NamedTuple):
    """What one `git status --porcelain=v2 --branch` says about a work tree."""

    head: Optional[str]  # None in a repo with no commit yet
    branch: Optional[str]  # None when detached
    changed: Tuple[str, ...]  # tracked files with staged or unstaged changes
    submodules: Tuple[str, ...]  # submodules the user moved or edited: theirs, not "dirty"
    untracked: Tuple[str, ...] = ()  # only when asked for


def read_status(path: str, untracked: bool = False, submodule_edits: bool = True) -> Status:
    """One `git status` run; a moved submodule is never counted as a changed file.

    `submodule_edits=False`: submodules count only when moved off their recorded commit,
    which git reads from their refs; edits inside them would cost a `git status` in each
    (15 processes for iree), so callers check those only where they matter.
    """
    return parse_status(git(status_args(untracked, submodule_edits), path, "reading git status"))


def status_args(untracked: bool = False, submodule_edits: bool = True) -> List[str]:
    """The `git status` that `parse_status` reads: here, and in `GitRepo.state` (whose
    runner names the repo in its errors)."""
    args = ["status", "--porcelain=v2", "--branch", "-z"]
    args.append("--untracked-files=normal" if untracked else "--untracked-files=no")
    return args + ([] if submodule_edits else ["--ignore-submodules=dirty"])


def has_local_changes(path: str) -> bool:
    """Changed tracked files, or moved or edited submodules: the user's work in a tree."""
    status = read_status(path)
    return bool(status.changed or status.submodules)


def parse_status(out: str) -> Status:
    """Parse `git status --porcelain=v2 --branch -z` (the only parser of it we have)."""
    head: Optional[str] = None
    branch: Optional[str] = None
    changed: List[str] = []
    subs: List[str] = []
    new: List[str] = []
    records = iter(out.split("\0"))
    for record in records:
        if record.startswith("# branch.oid "):
            oid = record.split(" ", 2)[2]
            head = None if oid == "(initial)" else oid
        elif record.startswith("# branch.head "):
            value = record.split(" ", 2)[2]
            branch = None if value == "(detached)" else value
        elif record[:2] in ("1 ", "2 ", "u "):
            fields = record.split(" ", {"1": 8, "2": 9, "u": 10}[record[0]])
            (subs if fields[2].startswith("S") else changed).append(fields[-1])
            if record[0] == "2":
                next(records, None)  # a rename's original path
        elif record.startswith("? "):
            new.append(record[2:])
    return Status(head, branch, tuple(changed), tuple(subs), tuple(new))
