"""The standalone `xla-tasks` command: invoke's Program over our collection.

A bundled-namespace Program does not read `./invoke.yaml` (invoke only loads project
config next to a discovered tasks.py), so we load it from the workspace root ourselves;
env vars (INVOKE_XLA_TASKS_*) and flags still override it.
"""

from __future__ import annotations

import re
from pathlib import Path

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
        rest = tokens[tokens.index(found[1]) :] if found[1] in tokens else [found[1]]
        template = getattr(task, "extra_word", None) or _DEFAULT_EXTRA_WORD
        return "xla-tasks: " + template.format(
            task=context.name, given=given, extra=",".join(self._bare(rest)), rest=" ".join(rest)
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
