"""The words after `xla-tasks`, read the way invoke's parser will read them, one step ahead.

invoke has no optional positional (STYLE A3): a positional with a default is never filled
from a bare word, and one without a default is required and swallows the next word even
when it is a task name (`sync pin --check` would sync a repo named "pin"). So the program
walks the words first, as invoke's parser does (flags and their values, required
positionals, task names), and rewrites a bare word that would otherwise be refused into
the task's optional positional flag (`sync xla` -> `sync --names=xla`). A task name there
still starts the next task. Completion uses the same walk to know what the word under the
cursor is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OptionalOf = Callable[[str], "tuple[str | None, Sequence[str]]"]


@dataclass(slots=True)
class Place:
    """Where the walk stands: the task, a flag waiting for its value, positionals to fill."""

    task: str | None = None
    context: Any = None
    waiting: Any = None  # the Argument whose value comes next
    required: list[Any] = field(default_factory=list)
    optional: str | None = None  # the optional positional's flag name, while unfilled
    may_omit: Sequence[str] = ()
    helped: bool = False  # `TASK --help`: nothing runs
    after_list: bool = False  # the last word was a repeatable flag's value


def walk(
    tokens: Sequence[str],
    contexts: Mapping[str, Any],
    initial: Any,
    optional_of: OptionalOf,
    finish: bool = True,
) -> tuple[list[str], Place]:
    """The tokens invoke should parse, and where the walk ended (for completion, which
    passes `finish=False`: the last task's words go on under the cursor)."""
    out: list[str] = []
    place = Place(context=initial)
    for index, token in enumerate(tokens):
        if token == "--":
            out.extend(tokens[index:])
            return out, place
        after_list, place.after_list = place.after_list, False
        if place.waiting is not None:
            place.after_list = place.waiting.kind is list
            place.waiting = None
            out.append(token)
        elif token.startswith("-") and token != "-":
            out.append(token)
            _see_flag(place, token, initial)
        elif place.required:
            place.required.pop(0)
            out.append(token)
        elif token in contexts:
            _close(place, out)
            _open(place, token, contexts[token], optional_of)
            out.append(token)
        elif place.optional is not None and not after_list:
            # (after `--exclude-dep a`, a bare `b` is left to invoke to refuse: the program
            # says to repeat the flag, the common slip, rather than take `b` as NAMES)
            out.append(f"--{place.optional}={token}")
            place.optional = None
        else:
            out.append(token)  # invoke refuses it; the program's message says why
    if finish:
        _close(place, out)
    return out, place


def _open(place: Place, name: str, context: Any, optional_of: OptionalOf) -> None:
    optional, may_omit = optional_of(name)
    place.task, place.context, place.waiting, place.helped = name, context, None, False
    place.required = list(context.positional_args)
    place.optional = optional
    place.may_omit = may_omit


def _close(place: Place, out: list[str]) -> None:
    """A positional the task lets the program omit (`roll` alone) is given as empty."""
    for arg in [] if place.helped else place.required:
        if arg.name in place.may_omit:
            out.append(f"--{arg.name}=")
    place.required = [arg for arg in place.required if arg.name not in place.may_omit]


def _see_flag(place: Place, token: str, initial: Any) -> None:
    flag, equals, _ = token.partition("=")
    context = place.context
    arg = _flag(context, flag)
    if arg is None and context is not None and flag in context.inverse_flags:
        return
    if arg is None and place.task is not None:
        arg = _flag(initial, flag)
        if arg is not None and arg.name == "help":
            place.helped = True  # `TASK --help`: invoke gives it the task's name, takes no word
            return
    if arg is None:
        return
    if place.optional is not None and arg.name == place.optional:
        place.optional = None
    place.required = [other for other in place.required if other is not arg]
    if arg.takes_value and not equals and not arg.optional:
        place.waiting = arg
    place.after_list = bool(equals) and arg.kind is list


def _flag(context: Any, flag: str) -> Any:
    """The flag's Argument (invoke's Lexicon resolves short aliases in `[]`, not in `get`)."""
    return context.flags[flag] if context is not None and flag in context.flags else None
