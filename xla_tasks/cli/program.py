"""The standalone `xla-tasks` command: invoke's Program over our collection.

A bundled-namespace Program does not read `./invoke.yaml` (invoke only loads project
config next to a discovered tasks.py), so we load it from the workspace root ourselves;
env vars (INVOKE_XLA_TASKS_*) and flags still override it.

`run` keeps invoke's steps but owns their ending: invoke's own `Program.run` exits 1 on
Ctrl-C and prints a traceback for a bad setting. Here every way a run can end is one
line on stderr and a contract exit code (1 bad input, 3 a bug, 130/143 interrupted), and
with `--json` one object on stdout (`endings.print_failure_json`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from invoke import Exit, ParseError, Program

from xla_tasks.cli.config import (
    CONFIG_DEFAULTS,
    check_env_settings,
    check_file_settings,
    settings_error,
)
from xla_tasks.cli.tasks import ns
from xla_tasks.ui import exits as endings
from xla_tasks.workspace.registry import find_workspace_root

VERSION = "0.1.0"


class XlaTasksProgram(Program):
    def parse_collection(self) -> None:
        super().parse_collection()
        root = find_workspace_root(Path.cwd())
        if root is not None and self.config is not None:
            self.config.set_project_location(str(root))
            try:
                self.config.load_project()
            except Exception as err:  # yaml's ParserError, invoke's AmbiguousMergeError, ...
                raise settings_error(root / "invoke.yaml", err) from None
            check_file_settings(self.config._project.get("xla_tasks"), root / "invoke.yaml")

    def parse_tasks(self) -> None:
        """Two fixes to invoke's task parsing.

        `demo --help` and `checkout -h` show the task's help: invoke hands a pending
        positional any word, so they used to run the demo into a folder named `--help`.
        invoke's "No idea what 'xla' is!" becomes a hint when it is an extra bare word:
        a task takes one word per positional (STYLE A3), so `checkout jax xla` leaves
        `xla` over. Task names never get there (the parser switches task on them), so
        chains such as `sync pin --check` are untouched; unknown flags keep invoke's
        message.
        """
        try:
            super().parse_tasks()
        except ParseError as err:
            hint = self._extra_word_hint(err)
            if hint is None:
                raise
            raise ParseError(hint, err.context) from None
        for context in self.tasks:
            if context.name and any(a.value in ("-h", "--help") for a in context.positional_args):
                self.print_task_help(context.name)
                raise Exit()

    def _extra_word_hint(self, err: ParseError) -> str | None:
        found = _UNKNOWN_WORD.fullmatch(str(err))
        context = err.context
        if found is None or found[1].startswith("-") or context is None or not context.name:
            return None
        try:
            task = self.collection[context.name] if self.collection is not None else None
        except KeyError:
            return None
        given = " ".join(str(arg.value) for arg in context.positional_args)
        tokens = list(self.core.unparsed) if self.core is not None else []
        at = tokens.index(found[1]) if found[1] in tokens else len(tokens)
        rest = tokens[at:] or [found[1]]
        words = self._bare(rest)
        repeat = _list_flag_hint(context, tokens[max(0, at - 2) : at], words)
        if repeat:
            return f"xla-tasks: {repeat}"
        template = getattr(task, "extra_word", None) or _DEFAULT_EXTRA_WORD
        return "xla-tasks: " + template.format(
            task=context.name, given=given, extra=",".join(words), rest=" ".join(rest)
        )

    def _bare(self, words: list[str]) -> list[str]:
        """The leading words that are neither flags nor task names (`b c --jobs 2` -> b, c)."""
        names = self.collection.task_names if self.collection is not None else {}
        taken = []
        for word in words:
            if word.startswith("-") or word in names:
                break
            taken.append(word)
        return taken

    def execute(self) -> None:
        """Check the settings as invoke will merge and cast them, before any task runs."""
        if self.config is not None:
            files = self.config.get("xla_tasks")
            check_file_settings(files, "invoke's config files")
            check_env_settings({**CONFIG_DEFAULTS, **(files or {})})
        super().execute()

    def update_config(self, merge: bool = True) -> None:
        try:
            super().update_config(merge)
        except Exception as err:  # invoke's AmbiguousEnvVar, UncastableEnvVar, ...
            raise settings_error("INVOKE_* environment variables", err) from None

    def create_config(self) -> None:
        try:
            super().create_config()
        except Exception as err:  # ~/.invoke.yaml or /etc/invoke.yaml
            where = "invoke's config files (~/.invoke.yaml, /etc/invoke.yaml)"
            raise settings_error(where, err) from None

    def run(self, argv: Any = None, exit: bool = True) -> None:  # noqa: A002 (invoke's name)
        endings.start_run()
        words = sys.argv if argv is None else (argv.split() if isinstance(argv, str) else argv)
        previous = None
        try:
            previous = endings.install_signal_handlers()
            self._steps(argv)
            return
        except ParseError as err:
            message, code = str(err), 1
        except Exit as err:
            message, code = err.message or "", err.code
        except BaseException as err:  # interrupts, settings errors, bugs
            message, code = endings.ending_of(err)
        finally:
            endings.restore_signal_handlers(previous)
        _end(message, code, endings.wants_json(words), exit)

    def _steps(self, argv: Any) -> None:
        """Program.run's steps, in its order, without its exception handling."""
        self.create_config()
        self.parse_core(argv)
        self.parse_collection()
        self.parse_tasks()
        self.parse_cleanup()
        self.update_config()
        self.execute()


def _end(message: str, code: int, as_json: bool, exit: bool) -> None:  # noqa: A002
    from xla_tasks.engine.model import redact

    if as_json and code != 0:
        endings.print_failure_json(None, redact(message), code)
    if message:
        print(redact(message), file=sys.stderr)
    if exit:
        sys.exit(code)


def _list_flag_hint(context: Any, before: list[str], words: list[str]) -> str | None:
    """For `--exclude-dep a b`: a repeatable flag takes one value per use, so say repeat it."""
    if not before:
        return None
    flag, _, value = before[-1].partition("=")
    if not value:
        if len(before) < 2:
            return None
        flag, value = before[0], before[1]
    arg = context.flags.get(flag) if flag.startswith("-") else None
    if arg is None or arg.kind is not list:
        return None
    repeated = " ".join(f"{flag} {word}" for word in [value, *words])
    return f"{flag} takes one value per use: repeat it, `{repeated}`"


_UNKNOWN_WORD = re.compile(r"No idea what '(.*)' is!", re.DOTALL)
_DEFAULT_EXTRA_WORD = (
    "{task} got an extra word {extra!r}, which is neither a task nor a flag of {task} "
    "(see: xla-tasks --help {task})"
)


program = XlaTasksProgram(
    namespace=ns,
    version=VERSION,
    name="xla-tasks",
    binary="xla-tasks",
    binary_names=["xla-tasks"],
)
