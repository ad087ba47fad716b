"""The sync engine: put repos on pinned commits safely, in parallel, reporting as it goes.

Standard library only and Python 3.8+: the generated `sync_deps.py` embeds these modules
verbatim, in the order of `MODULES` (each one's imports of the others dropped), and
`xla-tasks sync` and `checkout` import them, so each per-repo step has exactly one
implementation. Start at `sync.sync_repos`; `place.place_repo` decides what each repo needs,
`fetch` says how a missing commit is fetched.

Fast by reading the disk: HEAD, refs, packed-refs, object presence and `shallow` are read
without starting git (`disk`); a repo already on its pin costs no git process at all.
Callers get per-repo `Event`s (start, phase, git's progress, done, failed) through a
callback, which the live display and streamed CI lines are built on.
"""

# The order in which the script embeds the modules: each after those it imports.
MODULES = (
    "model",
    "progress",
    "heartbeat",
    "process",
    "filelock",
    "disk",
    "nesting",
    "worktree",
    "runner",
    "job",
    "fetch",
    "checkout",
    "cache",
    "clone",
    "pathregex",
    "batch",
    "submodules",
    "place",
    "sync",
)
