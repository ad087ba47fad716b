"""The sync engine: put repos on pinned commits safely, in parallel, reporting as it goes.

Standard library only and Python 3.8+: the generated `sync_deps.py` embeds this file
verbatim, and `xla-tasks sync`/`checkout` import it, so each per-repo step (clone into a
temp folder, exact-commit fetch with fallbacks, dirty/in-progress refusal, saving orphan
commits, the pin ref, submodules, history modes, the mirror cache, the stall watchdog)
has exactly one implementation.
"""

from typing import Callable, NamedTuple


class Event(NamedTuple):
    """One thing that happened to one repo, sent to the caller's callback as it happens.

    `repo` is the repo's name (a submodule is `NAME:PATH`). `kind` is one of:
    - "start": work on the repo began (text: its path);
    - "phase": a new step began (text: "clone", "fetch", "checkout", "submodules", ...);
    - "progress": git's own progress line, raw (text: e.g.
      "Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s");
    - "done": the repo is finished (text: its one-line summary);
    - "failed": the repo failed (text: the one-line reason).
    Callbacks are called from worker threads and must be thread-safe.
    """

    repo: str
    kind: str
    text: str


EventCallback = Callable[[Event], None]
EVENT_KINDS = ("start", "phase", "progress", "done", "failed")
