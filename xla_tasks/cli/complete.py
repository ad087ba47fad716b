"""Tab completion for `xla-tasks`: task names, flags, and the values a word stands for.

invoke's own completer offers task names wherever a value goes (`checkout <TAB>` listed the
tasks). Here the words before the cursor are walked as the parser will read them
(`cli.words`), so a NAMES word or `-b` gets the registry's repo names, `roll` gets the
project's schedules, and a comma list (`checkout iree,<TAB>`) is continued. Nothing here
may print an error: a broken registry simply offers no names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xla_tasks.cli.words import OptionalOf, walk

# invoke's bash script drops an empty word under the cursor (`checkout <TAB>` looks like
# `checkout<TAB>`); this one passes the words up to the cursor quoted, the empty one too.
BASH_SCRIPT = """\
# Tab completion for {binary} in bash: source <({binary} --print-completion-script bash)

_complete_{binary}() {{
    local candidates
    candidates=$({binary} --complete -- "${{COMP_WORDS[@]:0:COMP_CWORD+1}}" 2>/dev/null)
    COMPREPLY=( $(compgen -W "${{candidates}}" -- "$2") )
}}

complete -F _complete_{binary} -o default {spaced_names}
"""

REPO_VALUES = {"names", "base", "exclude_dep", "add"}
FIXED_VALUES = {
    "history": ["full", "blobless", "shallow"],
    "preset": ["openxla", "pytorch-xla", "none"],
    "print-completion-script": ["bash", "zsh", "fish"],
}


def candidates(
    remainder: str,
    binaries: list[str],
    contexts: Mapping[str, Any],
    initial: Any,
    optional_of: OptionalOf,
    core_flags: list[str],
) -> list[str]:
    """The words that may stand under the cursor, for `--complete -- WORDS...`."""
    pattern = "|".join(re.escape(name) for name in binaries)
    invocation = re.sub(rf"^\S*({pattern})(\s|$)", "", remainder)
    try:
        words = shlex.split(invocation)
    except ValueError:  # an open quote under the cursor
        words = invocation.split()
    if not invocation or invocation[-1].isspace():
        before, current = words, ""
    else:
        before, current = words[:-1], words[-1]
    _, place = walk(before, contexts, initial, optional_of, finish=False)
    if current.startswith("-"):
        flags = core_flags if place.task is None else list(place.context.flag_names())
        return [flag for flag in flags if flag.startswith(current)]
    if place.waiting is not None:
        return _values(place.waiting.name, current)
    if place.required:
        return _values(place.required[0].name, current)
    tasks = [name for name in contexts if name.startswith(current)]
    if place.task is None or place.optional is None:
        return sorted(tasks)
    return _values(place.optional, current) + sorted(tasks)


def _values(name: str, current: str) -> list[str]:
    if name in FIXED_VALUES:
        return [value for value in FIXED_VALUES[name] if value.startswith(current)]
    if name == "schedule":
        return [value for value in _schedules() if value.startswith(current)]
    if name not in REPO_VALUES:
        return []  # a command, a folder, a number: the shell's own completion
    head, _, partial = current.rpartition(",")
    given = set(head.split(",")) if head else set()
    prefix = f"{head}," if head else ""
    return [prefix + repo for repo in _repos() if repo.startswith(partial) and repo not in given]


def _repos() -> list[str]:
    from xla_tasks.workspace.registry import find_workspace

    try:
        workspace = find_workspace(Path.cwd())
    except Exception:  # completion never fails loudly
        return []
    return list(workspace.repos) if workspace is not None else []


def _schedules() -> list[str]:
    from xla_tasks.roll.plan import schedule_names
    from xla_tasks.workspace.project import find_project_dir

    try:
        return schedule_names(find_project_dir(Path.cwd()))
    except Exception:  # completion never fails loudly
        return []
