"""Nested layouts: a repo whose folder holds another's clone (pytorch holding torch_xla at
`pytorch/xla`). Users often clone the nested repo first, by hand; a run whose container
failed used to leave one there too. Such a folder is completed into a repo, never emptied:
the container is cloned beside it, the nested clones are moved into that clone, and the
clone takes the folder's place. Until then a marker in the new clone's git dir lists what
was moved, so that neither a failure nor a later run's clean-up can lose a nested clone.
"""

import contextlib
import json
import os
from typing import List, Optional

from xla_tasks.engine.disk import is_repo_top
from xla_tasks.engine.model import SyncError

MOVED_IN = "xla-tasks-moved-in.json"  # in a temporary clone's git dir: nested clones moved in


def nested_clones(path: str) -> Optional[List[str]]:
    """The git repo tops inside folder `path` (relative paths), when folders leading to them
    are all it holds; None when it holds anything else (a file, a link) or is no folder."""
    if os.path.islink(path) or not os.path.isdir(path):
        return None
    found: List[str] = []
    for name in sorted(os.listdir(path)):
        inner = os.path.join(path, name)
        if is_repo_top(inner) and not os.path.islink(inner):
            found.append(name)
            continue
        below = nested_clones(inner)
        if below is None:
            return None
        found.extend(os.path.join(name, rel) for rel in below)
    return found


def move_in(folder: str, clone: str, nested: List[str]) -> None:
    """Move the clones at `folder/REL` to `clone/REL`, after checking every place is free.

    The marker is written first, and a failure moves back whatever was moved.
    """
    taken = [rel for rel in nested if os.path.lexists(os.path.join(clone, rel))]
    if taken:
        raise SyncError(
            f"{folder} holds a clone at {taken[0]}, where its own tree has a file or folder; "
            "move that clone away, then run again"
        )
    marker = os.path.join(clone, ".git", MOVED_IN)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump({"folder": os.path.abspath(folder), "moved": nested}, handle)
    try:
        for rel in nested:
            os.makedirs(os.path.dirname(os.path.join(clone, rel)), exist_ok=True)
            os.rename(os.path.join(folder, rel), os.path.join(clone, rel))
        remove_empty_folders(folder)
    except BaseException:
        move_back(clone)
        raise


def move_back(clone: str) -> bool:
    """Put the nested clones a marker lists back where they were; True when none is left.

    A clone whose old place is taken again stays where it is (and this returns False):
    the temporary folder holding it must then be kept.
    """
    marker = os.path.join(clone, ".git", MOVED_IN)
    try:
        with open(marker, encoding="utf-8") as handle:
            record = json.load(handle)
        folder, moved = str(record["folder"]), [str(rel) for rel in record["moved"]]
    except FileNotFoundError:
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: keep everything
    left = False
    for rel in moved:
        here, home = os.path.join(clone, rel), os.path.join(folder, rel)
        if not os.path.lexists(here):
            continue
        if os.path.lexists(home):
            left = True
            continue
        os.makedirs(os.path.dirname(home), exist_ok=True)
        os.rename(here, home)
    if not left:
        os.remove(marker)
    return not left


def remove_empty_folders(path: str) -> None:
    """Remove `path` and the folders inside it, which must all be empty (OSError if not)."""
    for top, _, _ in os.walk(path, topdown=False):  # the deepest first
        os.rmdir(top)


def finish_move_in(repo_path: str) -> None:
    """The clone is in place: the nested clones are part of it now, the marker goes."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(repo_path, ".git", MOVED_IN))
