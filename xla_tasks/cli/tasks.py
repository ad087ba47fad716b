"""The invoke layer: one task per command, flags in, a printed result and an exit code out.

Everything below this file is plain functions (`xla_tasks.commands.*`) that know nothing of
invoke. Each task here only (1) turns flags and `ctx.config.xla_tasks` into TaskOptions,
(2) calls one command, (3) prints its result, (4) maps errors to exit codes:
0 ok; 1 a user-fixable problem or a failed repo; 3 a bug; 130 interrupted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from invoke import Collection, Exit, Task, task

from xla_tasks.cli.config import CONFIG_DEFAULTS
from xla_tasks.engine.model import EventCallback
from xla_tasks.errors import UsageError
from xla_tasks.ui.results import CommandResult
from xla_tasks.workspace.settings import TaskOptions, gate_options_from, options_from, split_names

JOBS_HELP = "parallel git operations (default: workspace [settings] jobs, else the machine's)"
JSON_HELP = "print one JSON object on stdout instead of text"
DRY_HELP = "say what would change, change nothing"
EXCL_DEP_HELP = "skip deps whose name matches (repeatable: --exclude-dep a --exclude-dep b)"
EXCL_SUB_HELP = "skip submodules whose NAME:PATH matches (repeatable)"
HISTORY_HELP = "for new clones: full (default), blobless or shallow"
CACHE_HELP = "shared mirror cache, one mirror per URL (also XLA_TASKS_CACHE)"
NAMES_HELP = "NAME[,NAME...]: only these repos (default: all)"
# A second bare word after NAMES (`sync xla jax`): the names go in one word, comma-joined.
NAMES_EXTRA_WORD = "{task} takes one NAMES word: write several names as `{task} {given},{extra}`"


class XlaTask(Task[Any]):
    """A Task with only the short flags we name (invoke's automatic ones shift over time)."""

    def __init__(
        self,
        *args: Any,
        shorts: dict[str, str] | None = None,
        extra_word: str | None = None,
        optional_positional: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["auto_shortflags"] = False
        super().__init__(*args, **kwargs)
        self.shorts = shorts or {}
        # What to say when a second bare word follows the positional (cli.py formats it
        # with task, given and extra); None: the generic "neither a task nor a flag".
        self.extra_word = extra_word
        # A flag the `xla-tasks` program also takes as a bare word after the positionals
        # (`sync xla` = `sync --names xla`). invoke has no optional positional: one with a
        # default is never filled, one without is required and swallows a following task
        # name (`sync pin --check`), so plain `invoke` users write `--names xla`.
        self.optional_positional = optional_positional

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Any]:
        """invoke's, without losing the help texts: its `arg_opts` pops each one, so the
        second parse in one process (tests, `help` then parsing) showed none."""
        texts = dict(self.help)
        try:
            return list(super().get_arguments(ignore_unknown_help))
        finally:
            self.help = texts

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        if name in self.shorts:
            opts["names"].append(self.shorts[name])
        return opts


def xla_task(**task_kwargs: Any) -> Callable[[Callable[..., Any]], Task[Any]]:
    """@task with our Task class and our error policy around the body.

    Every ending is one line and a contract exit code; with `--json` also one object on
    stdout (`{"ok": false, ...}` when the body printed none), for plain `invoke` too
    (SIGTERM included: the body runs with the handlers `xla-tasks` itself installs).
    """

    def decorate(body: Callable[..., Any]) -> Task[Any]:
        @functools.wraps(body)
        def guarded(ctx: Any, *args: Any, **kwargs: Any) -> None:
            from xla_tasks.ui import exits as endings

            previous = endings.install_signal_handlers()
            try:
                # Settings first, for every task and front: plain `invoke` reaches here
                # with whatever INVOKE_XLA_TASKS_* and invoke.yaml hold (cli/config.py).
                _options(ctx)
                _refuse_option_words(body, task_kwargs.get("positional", ()), kwargs)
                body(ctx, *args, **kwargs)
            except Exit as err:
                if err.code:
                    _fail_json(body, kwargs, err.message or "", err.code)
                raise
            except BaseException as err:
                message, code = endings.ending_of(err)
                _fail_json(body, kwargs, message, code)
                raise Exit(message, code=code) from None
            finally:
                endings.restore_signal_handlers(previous)

        return task(klass=XlaTask, **task_kwargs)(guarded)

    return decorate


def _refuse_option_words(
    body: Callable[..., Any], positional: Sequence[str], kwargs: dict[str, Any]
) -> None:
    """A positional never takes an option-like word as a path or name (`demo --help` under
    plain invoke, `demo -x`): write `./-x` for such a folder."""
    name = body.__name__.replace("_", "-")
    for arg in positional:
        value = kwargs.get(arg)
        if isinstance(value, str) and value.startswith("-"):
            folder = f"; for a folder of that name write ./{value}" if arg == "directory" else ""
            raise UsageError(
                f"{name}: {value!r} looks like an option, not {arg.upper()}",
                f"help: xla-tasks --help {name}{folder}",
            )


def _fail_json(body: Callable[..., Any], kwargs: dict[str, Any], message: str, code: int) -> None:
    if kwargs.get("json_"):
        from xla_tasks.engine.model import redact
        from xla_tasks.ui import exits as endings

        endings.print_failure_json(body.__name__.replace("_", "-"), redact(message), code)


def _finish(result: CommandResult, as_json: bool, streamed: set[str] | None = None) -> None:
    from xla_tasks.ui.report import print_result

    print_result(result, as_json, streamed=streamed or ())
    if not result.ok:
        raise Exit(code=1)


def _finish_streaming(run: Callable[[EventCallback], CommandResult], as_json: bool) -> None:
    """Run a command with its repos reported as each finishes (contract 5.3), then finish
    without printing those lines again."""
    from xla_tasks.ui.live import open_reporter

    with open_reporter(as_json) as reporter:
        result = run(reporter)
    _finish(result, as_json, streamed=reporter.printed)


def _options(ctx: Any, **flags: Any) -> TaskOptions:
    return options_from(getattr(ctx, "config", None), **flags)


@xla_task(help={"preset": "openxla (default), pytorch-xla or none", "json": JSON_HELP})
def init(ctx: Any, preset: str = "", json_: bool = False) -> None:
    """Write xla-workspace.toml here from a preset registry."""
    from xla_tasks.commands.init import init_workspace

    _finish(init_workspace(Path.cwd(), preset or None), json_)


@xla_task(
    positional=["names"],
    extra_word=NAMES_EXTRA_WORD,
    iterable=["exclude_dep", "exclude_submodule"],
    help={
        "names": "NAME[,NAME...]: registered repos to clone",
        "sync": "then run sync in each named repo",
        "deps": "also clone deps, recursively (--no-deps: only the named repos)",
        "submodules": "check out submodules of repos that have them (--no-submodules: skip)",
        "ro": "clone from the read-only url even when push_url is set",
        "exclude_dep": EXCL_DEP_HELP,
        "exclude_submodule": EXCL_SUB_HELP,
        "history": HISTORY_HELP,
        "cache": CACHE_HELP,
        "jobs": JOBS_HELP,
        "json": JSON_HELP,
    },
)
def checkout(
    ctx: Any,
    names: str,
    sync: bool = False,
    deps: bool = True,
    submodules: bool = True,
    ro: bool = False,
    exclude_dep: list[str] | None = None,
    exclude_submodule: list[str] | None = None,
    history: str = "",
    cache: str = "",
    jobs: str = "",
    json_: bool = False,
) -> None:
    """Clone registered repos and their deps (then sync with --sync)."""
    from xla_tasks.commands.checkout import checkout as run_checkout

    options = _options(
        ctx,
        jobs=jobs,
        exclude_dep=exclude_dep or [],
        exclude_submodule=exclude_submodule or [],
        history=history,
        cache=cache,
    )
    _finish_streaming(
        lambda on_event: run_checkout(
            Path.cwd(),
            split_names(names),
            options,
            with_deps=deps,
            submodules=submodules,
            read_only=ro,
            then_sync=sync,
            on_event=on_event,
        ),
        json_,
    )


@xla_task(
    optional_positional="names",
    extra_word=NAMES_EXTRA_WORD,
    iterable=["exclude_dep", "exclude_submodule"],
    help={
        "names": NAMES_HELP,
        "exclude_dep": EXCL_DEP_HELP,
        "exclude_submodule": EXCL_SUB_HELP,
        "history": HISTORY_HELP,
        "cache": CACHE_HELP,
        "jobs": JOBS_HELP,
        "dry_run": DRY_HELP,
        "json": JSON_HELP,
    },
)
def sync(
    ctx: Any,
    names: str = "",
    exclude_dep: list[str] | None = None,
    exclude_submodule: list[str] | None = None,
    history: str = "",
    cache: str = "",
    jobs: str = "",
    dry_run: bool = False,
    json_: bool = False,
) -> None:
    """Put every dep, transitively, at its pinned commit."""
    from xla_tasks.commands.sync import sync as run_sync

    options = _options(
        ctx,
        jobs=jobs,
        dry_run=dry_run,
        exclude_dep=exclude_dep or [],
        exclude_submodule=exclude_submodule or [],
        history=history,
        cache=cache,
        only=names,
    )
    _finish_streaming(lambda on_event: run_sync(Path.cwd(), options, on_event=on_event), json_)


@xla_task(
    iterable=["add"],
    help={
        "add": "start pinning this registered repo (repeatable, or --add a,b)",
        "require_upstream": "fetch, and refuse commits not on the dep's origin/<branch>",
        "check": "write nothing; fail if sync_deps.py is not the rendering of sync_deps.toml",
        "from_script": "take sync_deps.py's pins into sync_deps.toml (another tool rewrote it)",
        "from_toml": "regenerate sync_deps.py from sync_deps.toml as it is (no git)",
        "import": "write sync_deps.toml from a west.yml or vcstool .repos manifest",
        "dry_run": DRY_HELP,
        "json": JSON_HELP,
    },
)
def pin(
    ctx: Any,
    add: list[str] | None = None,
    require_upstream: bool = False,
    check: bool = False,
    from_script: bool = False,
    from_toml: bool = False,
    import_: str = "",
    dry_run: bool = False,
    json_: bool = False,
) -> None:
    """Record each dep's HEAD in the project's pin files."""
    from xla_tasks.commands.pin import pin as run_pin

    options = _options(ctx, dry_run=dry_run)
    names = [name for value in add or [] for name in split_names(value)]
    result = run_pin(
        Path.cwd(),
        options,
        add=names,
        require_upstream=require_upstream,
        check=check,
        from_script=from_script,
        from_toml=from_toml,
        import_file=import_ or None,
    )
    _finish(result, json_)


@xla_task(
    positional=["schedule"],
    extra_word="{task} takes one SCHEDULE ({given!r}); {extra!r} is neither a task nor a flag",
    help={
        "schedule": "a schedule of sync_deps.toml, or of the registry entry (and heads)",
        "log_limit": "newest commit subjects per moved dep in the message (default 10)",
        "jobs": JOBS_HELP,
        "dry_run": DRY_HELP,
        "json": JSON_HELP,
        "verify": "roll only what `sh -c CMD` passes with, holding back the culprits",
        "bisect": "narrow a culprit dep to its first bad commit; roll it to the one before",
        "max_tries": "run CMD at most N times (default: as often as the search needs)",
        "verify_timeout": "end a run of CMD (its whole process group) after S seconds",
    },
)
def roll(
    ctx: Any,
    schedule: str,
    log_limit: str = "",
    jobs: str = "",
    dry_run: bool = False,
    json_: bool = False,
    verify: str = "",
    bisect: bool = False,
    max_tries: str = "",
    verify_timeout: str = "",
) -> None:
    """Advance pins on a schedule: git heads and package versions."""
    from xla_tasks.commands.roll import roll as run_roll

    options = _options(ctx, jobs=jobs, dry_run=dry_run, log_limit=log_limit)
    gate = gate_options_from(verify, bisect, max_tries, verify_timeout)
    _finish(run_roll(Path.cwd(), schedule, options, gate), json_)


@xla_task(
    optional_positional="names",
    extra_word=NAMES_EXTRA_WORD,
    shorts={"base": "b", "all_": "a"},
    help={
        "names": "NAME[,NAME...]: only these repos (of those -b or -a select, if given)",
        "base": "update this repo and every repo that depends on it (default: this repo)",
        "all": "update every registered repo present on disk",
        "push": "push updated branches to origin when fetched from upstream (--no-push: don't)",
        "jobs": JOBS_HELP,
        "dry_run": DRY_HELP,
        "json": JSON_HELP,
    },
)
def update_repos(
    ctx: Any,
    names: str = "",
    base: str = "",
    all_: bool = False,
    push: bool = True,
    jobs: str = "",
    dry_run: bool = False,
    json_: bool = False,
) -> None:
    """Fast-forward local clones (and forks) to upstream."""
    from xla_tasks.commands.update_repos import update_repos as run_update

    options = _options(ctx, jobs=jobs, dry_run=dry_run, only=names)
    _finish_streaming(
        lambda on_event: run_update(
            Path.cwd(), options, base=base or None, every=all_, push=push, on_event=on_event
        ),
        json_,
    )


@xla_task(
    optional_positional="names",
    extra_word=NAMES_EXTRA_WORD,
    help={
        "names": NAMES_HELP,
        "check": "exit 1 naming each pinned dep that is missing, off its pin or dirty (for CI)",
        "jobs": "repos read at a time (default: workspace [settings] jobs, else the machine's)",
        "json": JSON_HELP,
    },
)
def status(
    ctx: Any, names: str = "", check: bool = False, jobs: str = "", json_: bool = False
) -> None:
    """Show each repo: branch, HEAD, pin, dirty, missing."""
    from xla_tasks.commands.status import status as run_status

    options = _options(ctx, jobs=jobs, only=names)
    _finish(run_status(Path.cwd(), options, check=check), json_)


@xla_task(
    positional=["cmd"],
    optional_positional="names",
    extra_word="{task} takes CMD as one word: quote it, `{task} '{given} {rest}'`",
    iterable=["exclude_dep"],
    help={
        "cmd": "shell command (one word: quote it), run with sh -c in each repo",
        "names": NAMES_HELP,
        "exclude_dep": EXCL_DEP_HELP,
        "jobs": "repos at a time (default: workspace [settings] jobs, else the machine's)",
        "dry_run": "name the repos CMD would run in, run nothing",
        "json": JSON_HELP,
    },
)
def foreach(
    ctx: Any,
    cmd: str,
    names: str = "",
    exclude_dep: list[str] | None = None,
    jobs: str = "",
    dry_run: bool = False,
    json_: bool = False,
) -> None:
    """Run CMD in every present repo status lists; each repo's output as one block."""
    import sys

    from xla_tasks.commands.foreach import Block
    from xla_tasks.commands.foreach import foreach as run_foreach
    from xla_tasks.ui.report import block_heading

    def show(block: Block) -> None:
        """The `== NAME (PATH) ==` line, then the output streamed from its file."""
        sys.stdout.write(block_heading(block.name, block.path))
        for piece in block.text():
            sys.stdout.write(piece)
        sys.stdout.flush()

    options = _options(ctx, jobs=jobs, exclude_dep=exclude_dep or [], dry_run=dry_run, only=names)
    try:
        result = run_foreach(Path.cwd(), cmd, options, None if json_ else show)
    except UsageError as err:
        if not names or not err.message.startswith("unknown repo"):
            raise
        hint = f"{err.hint}; to run `{cmd} {names}` in every repo, quote it as one word"
        raise UsageError(err.message, hint) from None
    _finish(result, json_)


@xla_task(
    help={
        "write": "keep the lines in a marked block of the project's .bazelrc.user",
        "clear": "remove that block from .bazelrc.user (every other line stays)",
        "dry_run": "with --write or --clear: say what would change, change nothing",
        "json": JSON_HELP,
    },
)
def bazelrc(
    ctx: Any, write: bool = False, clear: bool = False, dry_run: bool = False, json_: bool = False
) -> None:
    """Print Bazel flags that build against the workspace's checkouts."""
    from xla_tasks.commands.bazelrc import bazelrc as run_bazelrc

    options = _options(ctx, dry_run=dry_run)
    _finish(run_bazelrc(Path.cwd(), options, write=write, clear=clear), json_)


@xla_task(positional=["directory"], help={"directory": "a new (or empty) folder for the demo"})
def demo(ctx: Any, directory: str) -> None:
    """Run the offline demo: local upstreams, init, checkout, pin, sync."""
    from xla_tasks.demo.steps import run_demo

    run_demo(Path(directory))


ns = Collection(
    "xla", init, checkout, sync, pin, roll, update_repos, status, foreach, bazelrc, demo
)
ns.configure({"xla_tasks": dict(CONFIG_DEFAULTS)})
