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

import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

from invoke import Argument, Exit, ParseError, Program

from xla_tasks import __version__
from xla_tasks.cli import usage
from xla_tasks.cli.config import check_file_settings, settings_error
from xla_tasks.cli.tasks import ns
from xla_tasks.cli.words import walk
from xla_tasks.ui import exits as endings
from xla_tasks.workspace.registry import find_workspace_root


class XlaTasksProgram(Program):
    def core_args(self) -> list[Argument]:
        """Only the options that mean something here. invoke's others configure its `run()`
        (`--dry` echoed commands: here it would have run a real sync), sudo or timeouts of
        shell commands we never start; `--debug` is XLA_TASKS_DEBUG=1 here."""
        return [
            Argument(names=("complete",), kind=bool, default=False, help=_COMPLETE_HELP),
            Argument(names=("config", "f"), help="an invoke config file with xla_tasks.* settings"),
            Argument(names=("help", "h"), optional=True, help="show this help, or a task's flags"),
            Argument(names=("list", "l"), kind=bool, default=False, help="list the tasks"),
            Argument(
                names=("print-completion-script",),
                kind=str,
                default="",
                help="print the tab-completion script for bash, zsh or fish",
            ),
            Argument(names=("version", "V"), kind=bool, default=False, help="show the version"),
        ]

    def parse_core(self, argv: Any) -> None:
        self.normalize_argv(argv)
        self.parse_core_args()
        if self.args.version.value:
            self.print_version()
            raise Exit()
        shell = self.args["print-completion-script"].value
        if shell:
            self._print_completion_script(shell)
            raise Exit()

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
        """invoke's task parsing, with our words and our messages.

        `help [TASK]` is ours; a bare word after a task's positionals fills its optional
        one (`sync xla`, see words.py); `demo --help` shows the task's help (invoke hands a
        pending positional any word, so it used to run the demo into a folder named
        `--help`); and every ParseError becomes one line in our format (`translate`).
        """
        tokens = list(self.core.unparsed)
        if tokens[:1] == ["help"]:
            self._help_word(tokens[1:])
        self._given = tokens
        if self.core is not None:
            self.core.unparsed = self._words(tokens)
        try:
            super().parse_tasks()
        except ParseError as err:
            raise ParseError(self.translate(err), err.context) from None
        for context in self.tasks:
            if context.name and any(a.value in ("-h", "--help") for a in context.positional_args):
                self.print_task_help(context.name)
                raise Exit()

    def _words(self, tokens: list[str]) -> list[str]:
        contexts = self._contexts()
        return walk(tokens, contexts, self.initial_context, self._optional_of)[0]

    def _contexts(self) -> dict[str, Any]:
        """Each task's parser context by name and alias (only read: invoke parses copies)."""
        assert self.collection is not None
        found: dict[str, Any] = {}
        for context in self.collection.to_contexts():
            for name in (context.name, *context.aliases):
                found[str(name)] = context
        return found

    def _optional_of(self, name: str) -> tuple[str | None, tuple[str, ...]]:
        task = self.collection[name] if self.collection is not None else None
        omit = ("schedule",) if name == "roll" else ()
        return getattr(task, "optional_positional", None), omit

    def _help_word(self, rest: list[str]) -> None:
        """`xla-tasks help` and `xla-tasks help TASK`, like git and west."""
        if not rest:
            self.print_help()
            raise Exit()
        if rest[0] not in self._contexts():
            raise ParseError(usage.no_task(self.binary, rest[0], self._task_names()))
        self.print_task_help(rest[0])
        raise Exit()

    def _task_names(self) -> list[str]:
        return list(self.collection.task_names) if self.collection is not None else []

    def translate(self, err: ParseError) -> str:
        """invoke's parse error as our one line (`xla-tasks: ...`), with the closest match."""
        text = str(err)
        context = err.context
        task = context.name if context is not None and context.name else None
        word = _UNKNOWN_WORD.fullmatch(text)
        positional = context.positional_args if context is not None and task else []
        eaten = [str(a.value) for a in positional if str(a.value).startswith("-")]
        if eaten:  # invoke fed an unknown flag to a positional
            return self._unknown_flag(task, eaten[0].partition("=")[0])
        if word is not None and task is not None and (hint := self._quote_hint(task, word[1])):
            return hint
        if word is not None and word[1].startswith("-") and word[1] != "-":
            return self._unknown_flag(task, word[1].partition("=")[0])
        if word is not None and task is None:
            return usage.no_task(self.binary, word[1], self._task_names())
        if word is not None:
            return self._extra_word_hint(err) or f"{self.binary}: {text}"
        missing = _MISSING.fullmatch(text)
        if missing is not None:
            wanted = " ".join(
                usage.metavar(arg) for arg in (context.missing_positional_args if context else [])
            )
            return (
                f"{self.binary}: {missing[1]} needs {wanted or 'an argument'}; "
                f"see {self.binary} --help {missing[1]}"
            )
        flag = _NEEDS_VALUE.search(text)
        if flag is not None and task is not None:
            see = f"see {self.binary} --help {task}"
            return f"{self.binary}: {task} --{flag[1]} needs a value; {see}"
        return f"{self.binary}: {text}"

    def _quote_hint(self, task: str, word: str) -> str | None:
        """`foreach git log -1`: CMD is one word, so say to quote it, as the user typed it
        (a bare word after CMD is NAMES, so `-1` is the one refused); a near miss of a real
        flag (`--jbos`) gets the did-you-mean instead."""
        command = self.collection[task] if self.collection is not None else None
        context = self._contexts()[task]
        if "cmd" not in (arg.name for arg in context.positional_args):
            return None
        if word.startswith("-") and usage.closest(word, context.flag_names()):
            return None
        tokens = self._given
        at = len(tokens) - 1 - tokens[::-1].index(task) if task in tokens else -1
        words = self._bare(tokens[at + 1 :] if at >= 0 else tokens, flags=True)
        if len(words) < 2:
            return None
        template = getattr(command, "extra_word", None) or _DEFAULT_EXTRA_WORD
        return f"{self.binary}: " + template.format(
            task=task, given=words[0], extra=",".join(words[1:]), rest=" ".join(words[1:])
        )

    def _unknown_flag(self, task: str | None, flag: str) -> str:
        contexts = self._contexts()
        if task is None:
            task_flags = {f for ctx in contexts.values() for f in ctx.flag_names()}
            match = usage.closest(flag, [*self._core_flags(), *task_flags]) or flag
            owners = sorted({name for name, ctx in contexts.items() if match in ctx.flags})
            if owners:
                said = "" if match == flag else f"no option {flag}; "
                example = "sync" if "sync" in owners else owners[0]
                return (
                    f"{self.binary}: {said}{match} is a flag of {', '.join(owners)}: "
                    f"put it after the task (`{self.binary} {example} {match}`)"
                )
            return usage.no_flag(self.binary, None, flag, self._core_flags())
        context = contexts[task]
        return usage.no_flag(self.binary, task, flag, context.flag_names())

    def _core_flags(self) -> list[str]:
        return [f for f in self.initial_context.flag_names() if f != "--complete"]

    def _extra_word_hint(self, err: ParseError) -> str | None:
        found = _UNKNOWN_WORD.fullmatch(str(err))
        context = err.context
        if found is None or found[1].startswith("-") or context is None or not context.name:
            return None
        try:
            task = self.collection[context.name] if self.collection is not None else None
        except KeyError:
            return None
        optional = getattr(task, "optional_positional", None)
        given = [str(arg.value) for arg in context.positional_args]
        if optional and context.args[optional].value:
            given.append(str(context.args[optional].value))
        tokens = list(self.core.unparsed) if self.core is not None else []
        at = len(tokens) - 1 - tokens[::-1].index(found[1]) if found[1] in tokens else len(tokens)
        rest = tokens[at:] or [found[1]]
        words = self._bare(rest)
        repeat = _list_flag_hint(context, tokens[max(0, at - 2) : at], words)
        if repeat:
            return f"xla-tasks: {repeat}"
        template = getattr(task, "extra_word", None) or _DEFAULT_EXTRA_WORD
        return "xla-tasks: " + template.format(
            task=context.name, given=" ".join(given), extra=",".join(words), rest=" ".join(rest)
        )

    def _bare(self, words: list[str], flags: bool = False) -> list[str]:
        """The leading words that are not task names, nor flags unless `flags`
        (`b c --jobs 2` -> b, c)."""
        names = self.collection.task_names if self.collection is not None else {}
        taken = []
        for word in words:
            if (word.startswith("-") and not flags) or word in names:
                break
            taken.append(word)
        return taken

    def parse_cleanup(self) -> None:
        """--help, --list, --complete, or the help when no task is given."""
        wanted = self.args.help.value
        if wanted is True:
            self.print_help()
            raise Exit()
        if wanted:
            if wanted not in self._contexts():
                raise ParseError(usage.no_task(self.binary, wanted, self._task_names()))
            self.print_task_help(wanted)
            raise Exit()
        if self.args.list.value:
            self.list_format, self.list_depth = "flat", 0
            self.list_tasks()
            raise Exit()
        if self.args.complete.value:
            self._complete()
            raise Exit()
        if not self.tasks:
            self.print_help()
            raise Exit()

    def print_help(self) -> None:
        lines = [
            f"Usage: {self.binary} [--core-opts] TASK [--task-flags] [TASK [--task-flags]]...",
            "",
            *usage.DESCRIPTION.splitlines(),
            "",
            "Example:",
            *usage.EXAMPLE.splitlines(),
            "",
            "Core options:",
        ]
        core = [
            (usage.flag_spec(arg, False), arg.help or "")
            for arg in sorted(self.initial_context.args.values(), key=lambda a: a.name)
            if arg.name != "complete"
        ]
        lines += usage.columns(core)
        print("\n".join(lines) + "\n")
        self.list_format, self.list_depth = "flat", 0
        self.list_tasks()
        print(f"Each task's flags: {self.binary} help TASK (or {self.binary} --help TASK).")

    def print_task_help(self, name: str) -> None:
        context = self._contexts()[name]
        task = self.collection[name] if self.collection is not None else None
        doc = inspect.getdoc(task)
        optional = getattr(task, "optional_positional", None)
        print("\n".join(usage.task_help(self.binary, name, context, doc, optional)))

    def _complete(self) -> None:
        from xla_tasks.cli.complete import candidates

        found = candidates(
            self.core.remainder,
            self.binary_names,
            self._contexts(),
            self.initial_context,
            self._optional_of,
            self._core_flags(),
        )
        for word in found:
            print(word)

    def _print_completion_script(self, shell: str) -> None:
        from invoke.completion.complete import print_completion_script

        from xla_tasks.cli.complete import BASH_SCRIPT

        if shell != "bash":
            print_completion_script(shell=shell, names=self.binary_names)
            return
        names = self.binary_names
        print(BASH_SCRIPT.format(binary=names[0], spaced_names=" ".join(names)))

    def execute(self) -> None:
        """Check the merged settings files before any task runs (env values: tasks.py)."""
        if self.config is not None:
            check_file_settings(self.config.get("xla_tasks"), "invoke's config files")
        super().execute()

    def update_config(self, merge: bool = True) -> None:
        """Only the runtime config file (`-f FILE`, INVOKE_RUNTIME_CONFIG): invoke's other
        overrides come from the core options we do not offer."""
        try:
            path = self.args.config.value or os.environ.get("INVOKE_RUNTIME_CONFIG")
            self.config.set_runtime_path(path)  # type: ignore[arg-type]
            self.config.load_runtime(merge=False)
            if merge:
                self.config.merge()
        except Exception as err:  # a bad -f FILE, invoke's AmbiguousEnvVar, ...
            where = self.args.config.value or "INVOKE_* environment variables"
            raise settings_error(where, err) from None

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
_MISSING = re.compile(r"'(.*)' did not receive required positional arguments: .*", re.DOTALL)
_NEEDS_VALUE = re.compile(r"Flag <Argument: ([\w-]+).*needed value", re.DOTALL)
_COMPLETE_HELP = "print completion candidates (used by the completion scripts)"
_DEFAULT_EXTRA_WORD = (
    "{task} got an extra word {extra!r}, which is neither a task nor a flag of {task} "
    "(see: xla-tasks --help {task})"
)


program = XlaTasksProgram(
    namespace=ns,
    version=__version__,
    name="xla-tasks",
    binary="xla-tasks",
    binary_names=["xla-tasks"],
)
