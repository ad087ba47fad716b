"""The sync engine: put repos on pinned commits safely, in parallel, reporting as it goes.

Standard library only and Python 3.8+: the generated `sync_deps.py` embeds this file
verbatim, and `xla-tasks sync`/`checkout` import it, so each per-repo step (clone into a
temp folder, exact-commit fetch with fallbacks, dirty/in-progress refusal, saving orphan
commits, the pin ref, submodules, history modes, the mirror cache, the stall watchdog)
has exactly one implementation.
"""

import re
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


# `scheme://USERINFO@` anywhere in a text (a URL, a git error line, a JSON dump). USERINFO
# runs to the last `@` before the host's `/`, as git and urllib split it.
_USERINFO_RE = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^/\s'\"<>@]*(?:@[^/\s'\"<>@]*)*)@")
# Over ssh the user name is an account ("git@"), never a secret: keep it.
_SSH_SCHEMES = ("ssh://", "git+ssh://", "ssh+git://")


def _mask_userinfo(found: "re.Match[str]") -> str:
    scheme, userinfo = found.group(1), found.group(2)
    if ":" in userinfo:
        return scheme + userinfo.split(":", 1)[0] + ":***@"
    if scheme.lower() in _SSH_SCHEMES:
        return found.group(0)
    return scheme + "***@"


def redact(text: str) -> str:
    """`text` (a URL, or any message holding URLs) with the secrets of its URLs masked.

    The one implementation the package and the generated `sync_deps.py` share: messages end
    up in CI logs, JSON reports and commit messages. A password (`user:PASSWORD@`) becomes
    `user:***@`; a lone user name over https and other non-ssh schemes is the usual token
    form (`https://ghp_xxx@github.com/...`) and becomes `***@`; `ssh://git@host` is kept.
    """
    return _USERINFO_RE.sub(_mask_userinfo, text)
