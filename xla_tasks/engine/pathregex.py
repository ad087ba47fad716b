"""Regexes read from pin files, matched in time linear in the path: never a hang.

A dep's `exclude_submodules` comes from a repo's pin file, not from the user running us,
and Python's `re` backtracks: `(a+)+$`, or even `a*a*a*b`, on a long path runs for hours.
So these patterns are parsed by Python's own parser (the syntax and meaning stay `re`'s)
and run by a Thompson NFA: each character of the path is looked at once, against the set
of live states, so a search costs at most len(path) x MAX_STATES steps. What cannot be
run that way is refused when the pin file is read (`unsupported`): backreferences,
lookarounds, atomic groups and possessive repeats, inline flags, and patterns that
expand past MAX_STATES states (`a{1000}{1000}`).
"""

import functools
import importlib
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from xla_tasks.engine.model import SyncError

MAX_STATES = 500  # a real path pattern needs 20 to 60; the worst search of a 4 KB path: ~1 s

try:  # the parser `re` itself uses (a private module: `sre_parse` before 3.11)
    _sre: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover (Python < 3.11)
    _sre = importlib.import_module("sre_parse")

_CHAR, _SPLIT, _JUMP, _AT, _MATCH = range(5)
Op = Tuple[int, Any, Any]  # (kind, a, b): a predicate, or targets, or an anchor


class PathRegex:
    """A compiled pattern: `search(text)` is `re.search(pattern, text) is not None`."""

    def __init__(self, pattern: str, program: List[Op]) -> None:
        self.pattern = pattern
        self.program = program

    def search(self, text: str) -> bool:
        program, size = self.program, len(text)
        live: List[int] = []
        for pos in range(size + 1):
            live = self._closure([*live, 0], text, pos)  # a new try starts at every position
            if any(program[pc][0] == _MATCH for pc in live):
                return True
            if pos == size:
                return False
            char = text[pos]
            live = [pc + 1 for pc in live if program[pc][0] == _CHAR and program[pc][1](char)]
        return False  # pragma: no cover (the loop returns at pos == size)

    def _closure(self, starts: List[int], text: str, pos: int) -> List[int]:
        """The states reachable from `starts` without reading a character, once each."""
        seen = set()
        out = []
        stack = list(reversed(starts))
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            kind, a, b = self.program[pc]
            if kind == _SPLIT:
                stack += [b, a]
            elif kind == _JUMP:
                stack.append(a)
            elif kind == _AT:
                if _at(a, text, pos):
                    stack.append(pc + 1)
            else:
                out.append(pc)
        return out


@functools.lru_cache(maxsize=256)
def compile_path_regex(pattern: str) -> PathRegex:
    """The pattern, ready to search; ValueError says why one cannot run in linear time."""
    problem = unsupported(pattern)
    if problem:
        raise ValueError(problem)
    program: List[Op] = []
    _emit(_sre.parse(pattern), program)
    program.append((_MATCH, None, None))
    return PathRegex(pattern, program)


def path_search(pattern: str, text: str) -> bool:
    """`re.search(pattern, text)` for a pattern a pin file gave, in linear time; a pattern
    outside what can run so (a hand-edited script's) fails that repo, naming it."""
    try:
        return compile_path_regex(pattern).search(text)
    except ValueError as err:
        raise SyncError(f"exclude_submodules: {err}") from None


def unsupported(pattern: str) -> Optional[str]:
    """Why `pattern` cannot be matched here (None: it can). It must be a valid `re` first."""
    try:
        re.compile(pattern)
        parsed = _sre.parse(pattern)
    except re.error as err:
        return f"invalid regex {pattern!r}: {err}"
    except RecursionError:
        return f"invalid regex {pattern[:24]!r}...: groups nested too deeply"
    state = getattr(parsed, "state", None) or parsed.pattern  # `pattern` before 3.11
    try:
        if state.flags & ~re.UNICODE:
            raise ValueError("inline flags like (?i) are not supported")
        size = _size(parsed)
    except ValueError as err:
        return f"regex {pattern[:60]!r}: {err} here (a pin file's regex runs in linear time)"
    if size > MAX_STATES:
        return (
            f"regex {pattern[:40]!r}: too large ({size} states once its repeats are "
            f"expanded, at most {MAX_STATES})"
        )
    return None


_REFUSED = {
    "GROUPREF": "backreferences",
    "GROUPREF_EXISTS": "conditional groups",
    "ASSERT": "lookarounds",
    "ASSERT_NOT": "lookarounds",
    "ATOMIC_GROUP": "atomic groups",
    "POSSESSIVE_REPEAT": "possessive repeats",
}


def _name(constant: Any) -> str:
    """The name of one of the parser's constants (`LITERAL`, `AT_END`, ...)."""
    return str(getattr(constant, "name", constant))


def _size(items: Any) -> int:
    """How many states `items` compiles to; ValueError for what the NFA cannot run."""
    total = 0
    for op, av in items:
        name = _name(op)
        if name in _REFUSED:
            raise ValueError(f"{_REFUSED[name]} are not supported")
        if name == "SUBPATTERN":
            if av[1] or av[2]:
                raise ValueError("inline flags like (?i) are not supported")
            total += _size(av[3])
        elif name == "BRANCH":
            total += sum(_size(branch) + 2 for branch in av[1])
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, body = av
            copies = low + 1 if high == _sre.MAXREPEAT else high
            total += (_size(body) + 2) * max(copies, 1)
        else:
            total += 1
        if total > MAX_STATES:
            return total
    return total


def _emit(items: Any, program: List[Op]) -> None:
    """Append the states of `items` to `program` (Thompson's construction)."""
    for op, av in items:
        name = _name(op)
        if name == "SUBPATTERN":
            _emit(av[3], program)
        elif name == "BRANCH":
            _emit_branch(av[1], program)
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):  # greedy or lazy: same yes/no answer
            _emit_repeat(av[0], av[1], av[2], program)
        elif name == "AT":
            program.append((_AT, _name(av), None))
        else:
            program.append((_CHAR, _predicate(name, av), None))


def _emit_branch(branches: Any, program: List[Op]) -> None:
    jumps = []
    for index, branch in enumerate(branches):
        if index < len(branches) - 1:
            split = len(program)
            program.append((_SPLIT, split + 1, None))
            _emit(branch, program)
            jumps.append(len(program))
            program.append((_JUMP, None, None))
            program[split] = (_SPLIT, split + 1, len(program))
        else:
            _emit(branch, program)
    for at in jumps:
        program[at] = (_JUMP, len(program), None)


def _emit_repeat(low: int, high: int, body: Any, program: List[Op]) -> None:
    for _ in range(low):
        _emit(body, program)
    if high == _sre.MAXREPEAT:  # a loop: split into the body or past it, the body jumps back
        split = len(program)
        program.append((_SPLIT, split + 1, None))
        _emit(body, program)
        program.append((_JUMP, split, None))
        program[split] = (_SPLIT, split + 1, len(program))
        return
    splits = []
    for _ in range(high - low):  # each optional copy may be skipped to the end
        splits.append(len(program))
        program.append((_SPLIT, None, None))
        _emit(body, program)
    for at in splits:
        program[at] = (_SPLIT, at + 1, len(program))


def _predicate(name: str, av: Any) -> Callable[[str], bool]:
    if name == "LITERAL":
        return lambda char: ord(char) == av
    if name == "NOT_LITERAL":
        return lambda char: ord(char) != av
    if name == "ANY":
        return lambda char: char != "\n"
    if name == "IN":
        return _in_set(av)
    raise ValueError(f"unsupported regex element {name}")  # pragma: no cover (see _size)


def _in_set(items: Any) -> Callable[[str], bool]:
    """A character class: literals, ranges and categories, maybe negated."""
    negate = False
    codes = set()
    ranges: List[Tuple[int, int]] = []
    categories: List[Callable[[str], bool]] = []
    for op, av in items:
        name = _name(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            codes.add(av)
        elif name == "RANGE":
            ranges.append((av[0], av[1]))
        elif name == "CATEGORY":
            categories.append(_CATEGORIES[_name(av)])
        else:
            raise ValueError(f"unsupported character class element {name}")

    def test(char: str) -> bool:
        code = ord(char)
        found = (
            code in codes
            or any(low <= code <= high for low, high in ranges)
            or any(category(char) for category in categories)
        )
        return found != negate

    return test


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


_CATEGORIES: Dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": lambda char: char.isdecimal(),
    "CATEGORY_NOT_DIGIT": lambda char: not char.isdecimal(),
    "CATEGORY_SPACE": lambda char: char.isspace(),
    "CATEGORY_NOT_SPACE": lambda char: not char.isspace(),
    "CATEGORY_WORD": _is_word,
    "CATEGORY_NOT_WORD": lambda char: not _is_word(char),
}


def _at(anchor: str, text: str, pos: int) -> bool:
    """Does the zero-width `anchor` hold at `pos` (no MULTILINE: flags are refused)?"""
    size = len(text)
    if anchor in ("AT_BEGINNING", "AT_BEGINNING_STRING"):
        return pos == 0
    if anchor == "AT_END":
        return pos == size or (pos == size - 1 and text[pos] == "\n")
    if anchor == "AT_END_STRING":
        return pos == size
    before = pos > 0 and _is_word(text[pos - 1])
    after = pos < size and _is_word(text[pos])
    if anchor == "AT_BOUNDARY":
        return before != after
    if anchor == "AT_NON_BOUNDARY":
        return before == after
    raise ValueError(f"unsupported anchor {anchor}")  # pragma: no cover
