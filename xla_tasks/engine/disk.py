"""Reading a repository from disk without starting git: where its git dir is, HEAD, loose
and packed refs, whether an object is present (loose objects, pack indexes v2, alternates),
and whether it is shallow. This is why a repo already on its pin costs no git process.
"""

import bisect
import contextlib
import json
import os
import threading
from typing import Dict, List, NamedTuple, Optional, Set, Tuple, Union

from xla_tasks.engine.model import SHA_RE, SUBMODULE_MEMO
from xla_tasks.engine.process import run_git


def git_dir_of(path: str) -> Optional[str]:
    """The git directory of a work tree top, found the way git finds it (no process).

    `.git` is a directory, or a file `gitdir: <path>` (submodules, linked worktrees).
    """
    marker = os.path.join(path, ".git")
    if os.path.isdir(marker):
        return marker if os.path.isfile(os.path.join(marker, "HEAD")) else None
    if not os.path.isfile(marker):
        return None
    try:
        with open(marker, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4096).strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    found = os.path.normpath(os.path.join(path, text[len("gitdir:") :].strip()))
    return found if os.path.isfile(os.path.join(found, "HEAD")) else None


def common_dir_of(git_dir: str) -> str:
    """Where refs, objects and `shallow` live: the git dir, or a linked worktree's main one."""
    pointer = os.path.join(git_dir, "commondir")
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as handle:
            return os.path.normpath(os.path.join(git_dir, handle.read().strip()))
    return git_dir


def is_repo_top(path: "Union[str, os.PathLike[str]]") -> bool:
    """True when `path` is the top of its own work tree (holds a valid `.git`)."""
    return git_dir_of(os.fspath(path)) is not None


def read_ref(common: str, ref: str) -> Optional[str]:
    """A ref's commit from its loose file or `packed-refs`; None when absent or unsure."""
    try:
        with open(os.path.join(common, ref), encoding="utf-8") as handle:
            value = handle.read(200).strip()
        if value.startswith("ref: "):
            return read_ref(common, value[5:])
        return value if SHA_RE.match(value) else None
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as handle:
            for line in handle:
                sha, _, name = line.rstrip("\n").partition(" ")
                if name == ref and SHA_RE.match(sha):
                    return sha
    except OSError:
        pass
    return None


class Head(NamedTuple):
    sha: Optional[str]  # None: no commit yet, or unreadable
    branch: Optional[str]  # None: detached


def read_head(git_dir: str) -> Head:
    """HEAD as files say it: detached commit, or a branch resolved through loose/packed refs."""
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as handle:
            value = handle.read(300).strip()
    except OSError:
        return Head(None, None)
    if value.startswith("ref: "):
        ref = value[5:]
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
        return Head(read_ref(common_dir_of(git_dir), ref), branch)
    return Head(value if SHA_RE.match(value) else None, None)


def write_ref(git_dir: str, ref: str, sha: str) -> None:
    """Point one of our own refs at `sha` as git stores it (a loose ref file), atomically."""
    common = common_dir_of(git_dir)
    if read_ref(common, ref) == sha:
        return
    path = os.path.join(common, ref)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomically(path, sha + "\n")


def write_atomically(path: str, text: str) -> None:
    """Old or new, never torn: written beside under a name of this process and thread (two
    runs at once, `sync_deps.py` beside `xla-tasks sync`, never share it), then renamed."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def read_memo(git_dir: str) -> Tuple[Optional[str], Dict[str, str], Set[str]]:
    """The submodule memo of the last complete walk (written by sync): the commit it was
    at, its gitlinks and the superprojects whose submodules it read (nothing when there
    is no readable memo)."""
    try:
        with open(os.path.join(git_dir, SUBMODULE_MEMO), encoding="utf-8") as handle:
            memo = json.load(handle)
        links = {str(full): str(sha) for full, sha in dict(memo["gitlinks"]).items()}
        return memo.get("pin"), links, {str(prefix) for prefix in memo.get("walked", ())}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, {}, set()


def has_object(git_dir: str, sha: str) -> Optional[bool]:
    """Is object `sha` in the repo? Read from loose objects and pack indexes (v2).

    None when unsure (an index we cannot read): ask git then.
    """
    pending = [os.path.join(common_dir_of(git_dir), "objects")]
    seen: Set[str] = set()
    unsure = False
    while pending:
        objects = os.path.normpath(pending.pop())
        if objects in seen:
            continue
        seen.add(objects)
        if os.path.isfile(os.path.join(objects, sha[:2], sha[2:])):
            return True
        found = _in_packs(os.path.join(objects, "pack"), bytes.fromhex(sha))
        if found is None:
            unsure = True
        elif found:
            return True
        pending.extend(_alternates(objects))
    return None if unsure else False


def _in_packs(pack_dir: str, want: bytes) -> Optional[bool]:
    try:
        names = [n for n in os.listdir(pack_dir) if n.endswith(".idx")]
    except OSError:
        return False
    unsure = False
    for name in names:
        found = _in_index(os.path.join(pack_dir, name), want)
        if found:
            return True
        unsure = unsure or found is None
    return None if unsure else False


def _in_index(path: str, want: bytes) -> Optional[bool]:
    """Binary search of a pack index v2: fan-out table, then sorted 20-byte ids."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8 + 256 * 4)
            if head[:8] != b"\377tOc\0\0\0\2":
                return None
            fanout = [int.from_bytes(head[8 + 4 * i : 12 + 4 * i], "big") for i in range(256)]
            lo = fanout[want[0] - 1] if want[0] else 0
            hi = fanout[want[0]]
            handle.seek(8 + 256 * 4 + 20 * lo)
            ids = handle.read(20 * (hi - lo))
    except OSError:
        return None
    keys = [ids[i : i + 20] for i in range(0, len(ids), 20)]
    at = bisect.bisect_left(keys, want)
    return at < len(keys) and keys[at] == want


def _alternates(objects: str) -> List[str]:
    try:
        with open(os.path.join(objects, "info", "alternates"), encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
    except OSError:
        return []
    return [os.path.join(objects, line) for line in lines if line and not line.startswith("#")]


def has_commit(path: str, git_dir: str, sha: str) -> bool:
    """Is commit `sha` here? Read from disk; git is asked only when the disk is unsure (an
    index format we do not read), and never in a partial clone, where asking would fetch."""
    found = has_object(git_dir, sha)
    if found is None:
        if is_partial(git_dir):
            return False
        return run_git(["cat-file", "-e", sha + "^{commit}"], path).code == 0
    return found


def is_partial(git_dir: str) -> bool:
    """A partial (blobless) clone: its config names a promisor remote."""
    try:
        with open(os.path.join(common_dir_of(git_dir), "config"), encoding="utf-8") as handle:
            return "promisor = true" in handle.read()
    except OSError:
        return False


def is_shallow(git_dir: str) -> bool:
    return os.path.isfile(os.path.join(common_dir_of(git_dir), "shallow"))
