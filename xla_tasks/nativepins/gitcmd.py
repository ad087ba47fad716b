"""How this package starts git: the engine's hygiene (no ext:: transport, no foreign repo).

Kept local because the package may import only `errors` from the rest of xla_tasks; when
it moves under `xla_tasks/pins/`, these two names should become the engine's `_GIT` and
`git_env()`.
"""

from __future__ import annotations

import os

GIT = ("git", "-c", "protocol.ext.allow=never")
# Inherited from a hook or an alias, these would point git at some other repository.
_FOREIGN = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)


def git_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _FOREIGN}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASK_YESNO="false")
    return env
