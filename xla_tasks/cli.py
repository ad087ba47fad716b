"""The standalone `xla-tasks` command: invoke's Program over our collection.

A bundled-namespace Program does not read `./invoke.yaml` (invoke only loads project
config next to a discovered tasks.py), so we load it from the workspace root ourselves;
env vars (INVOKE_XLA_TASKS_*) and flags still override it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from invoke import ParseError, Program

from .tasks import ns
from .workspace import find_workspace_root

VERSION = "0.1.0"


class XlaTasksProgram(Program):
    def parse_collection(self) -> None:
        super().parse_collection()
        root = find_workspace_root(Path.cwd())
        if root is not None and self.config is not None:
            self.config.set_project_location(str(root))
            self.config.load_project()

    def parse_tasks(self) -> None:
        """invoke's "No idea what 'xla' is!" becomes a hint when it is an extra bare word.

        A task takes one word per positional (STYLE A3), so `checkout jax xla` leaves `xla`
        over. Task names never get here (the parser switches task on them), so chains such
        as `sync pin --check` are untouched; unknown flags keep invoke's message.
        """
        try:
            super().parse_tasks()
        except ParseError as err:
            hint = self._extra_word_hint(err)
            if hint is None:
                raise
            raise ParseError(hint, err.context) from None

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
