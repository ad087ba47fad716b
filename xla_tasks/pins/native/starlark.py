"""Starlark read as text: tokens, top-level string constants, calls and their keyword values.

Bazel files (`MODULE.bazel`, `WORKSPACE`, `*.bzl`) are never executed. One linear regex
scan makes the tokens, one pass with an explicit stack matches the brackets, and keyword
values are evaluated only as far as pins need: string literals, names of string constants,
`+`, `.format(...)` and wrapper calls such as `tf_mirror_urls(...)`. Nothing recurses, and
no pattern can backtrack without bound, so deep nesting or a huge line costs one pass.
"""

from __future__ import annotations

import bisect
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

STR, NAME, OP, NL = 0, 1, 2, 3

_TOKEN = re.compile(
    r"""
     (\#[^\n]*)
    |((?:[rRbBuU]{1,2})?(?:
        '''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?:'''|\Z)
       |\"\"\"[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?:\"\"\"|\Z)
       |'[^'\\\n]*(?:\\.[^'\\\n]*)*'?
       |"[^"\\\n]*(?:\\.[^"\\\n]*)*"?))
    |([A-Za-z0-9_]+)
    |(\n)
    |(?:[ \t\r\f]+|\\\r?\n)
    |(.)
    """,
    re.VERBOSE | re.DOTALL,
)
_KIND = {2: STR, 3: NAME, 4: NL, 5: OP}
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True, slots=True)
class Ref:
    """A name inside a string expression; resolved against the unit's constants."""

    name: str


Part = str | Ref
Template = tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Constant:
    """`NAME = "value"` at statement level (top-level or inside a `def`)."""

    file: str
    name: str
    value: str
    line: int
    token: int


@dataclass(frozen=True, slots=True)
class Call:
    """`callee(...)` with at least one keyword argument; values are token ranges."""

    callee: str
    open: int
    close: int
    kwargs: dict[str, tuple[int, int]]


@dataclass
class BzlFile:
    """One Bazel file's tokens, constants and calls."""

    path: str
    text: str
    kinds: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    match: dict[int, int] = field(default_factory=dict)
    depth: list[int] = field(default_factory=list)
    constants: list[Constant] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    _newlines: list[int] | None = None

    @classmethod
    def parse(cls, path: str, text: str) -> BzlFile:
        bzl = cls(path, text)
        bzl._tokenize()
        bzl._find_constants()
        bzl._find_calls()
        return bzl

    # -- tokens ---------------------------------------------------------------------------

    def _tokenize(self) -> None:
        kinds, starts, ends = self.kinds, self.starts, self.ends
        for found in _TOKEN.finditer(self.text):
            kind = _KIND.get(found.lastindex or 0)
            if kind is None:
                continue
            kinds.append(kind)
            starts.append(found.start())
            ends.append(found.end())
        stack: list[int] = []
        depth = self.depth
        text = self.text
        for index, kind in enumerate(kinds):
            char = text[starts[index]] if kind == OP else ""
            if char and char in _CLOSE and stack:
                self.match[stack.pop()] = index
            depth.append(len(stack))
            if char and char in _OPEN:
                stack.append(index)

    def op(self, index: int, chars: str) -> bool:
        return (
            0 <= index < len(self.kinds)
            and self.kinds[index] == OP
            and self.text[self.starts[index]] in chars
        )

    def word(self, index: int) -> str:
        return self.text[self.starts[index] : self.ends[index]]

    def line_of(self, offset: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, offset) + 1

    def string_span(self, index: int) -> tuple[int, int]:
        """Offsets of a string token's body (between its quotes)."""
        start, end = self.starts[index], self.ends[index]
        token = self.text[start:end]
        prefix = len(token) - len(token.lstrip("rRbBuU"))
        quote = token[prefix]
        width = 3 if token[prefix : prefix + 3] == quote * 3 else 1
        body_end = (
            end - width
            if len(token) >= prefix + 2 * width and token.endswith(quote * width)
            else end
        )
        return start + prefix + width, body_end

    def string_value(self, index: int) -> str:
        start, end = self.string_span(index)
        return self.text[start:end]

    def next_index(self, index: int) -> int:
        """The next token that is not a newline."""
        index += 1
        while index < len(self.kinds) and self.kinds[index] == NL:
            index += 1
        return index

    def prev_index(self, index: int) -> int:
        index -= 1
        while index >= 0 and self.kinds[index] == NL:
            index -= 1
        return index

    # -- statements -----------------------------------------------------------------------

    def _find_constants(self) -> None:
        kinds, count = self.kinds, len(self.kinds)
        for index in range(count - 2):
            if (
                kinds[index] == NAME
                and self.depth[index] == 0
                and (index == 0 or kinds[index - 1] == NL)
                and self.op(index + 1, "=")
                and kinds[index + 2] == STR
                and (index + 3 == count or kinds[index + 3] == NL or self.op(index + 3, ";"))
            ):
                self.constants.append(
                    Constant(
                        self.path,
                        self.word(index),
                        self.string_value(index + 2),
                        self.line_of(self.starts[index + 2]),
                        index + 2,
                    )
                )

    def _find_calls(self) -> None:
        kinds = self.kinds
        for index in range(len(kinds) - 1):
            if kinds[index] != NAME or not self.op(index + 1, "("):
                continue
            close = self.match.get(index + 1)
            if close is None:
                continue
            kwargs = dict(self.arguments(index + 1, close)[1])
            if kwargs:
                self.calls.append(Call(self._callee(index), index + 1, close, kwargs))

    def _callee(self, index: int) -> str:
        parts = [self.word(index)]
        while index >= 2 and self.op(index - 1, ".") and self.kinds[index - 2] == NAME:
            index -= 2
            parts.append(self.word(index))
        return ".".join(reversed(parts))

    def arguments(
        self, open_: int, close: int
    ) -> tuple[list[tuple[int, int]], list[tuple[str, tuple[int, int]]]]:
        """Positional and keyword arguments between two matched brackets, as token ranges."""
        positional: list[tuple[int, int]] = []
        keywords: list[tuple[str, tuple[int, int]]] = []
        index = open_ + 1
        while index < close:
            while index < close and (self.kinds[index] == NL or self.op(index, ",")):
                index += 1
            if index >= close:
                break
            start = index
            while index < close and not self.op(index, ","):
                index = self.match.get(index, index) + 1
            if (
                self.kinds[start] == NAME
                and self.op(start + 1, "=")
                and not self.op(start + 2, "=")
                and start + 2 <= index
            ):
                keywords.append((self.word(start), (start + 2, index)))
            else:
                positional.append((start, index))
        return positional, keywords

    # -- string expressions -----------------------------------------------------------------

    def templates(self, start: int, end: int) -> list[Template]:
        """The strings an expression builds, as literal parts and names (linear, no recursion).

        `tf_mirror_urls("https://h/{commit}.tar.gz".format(commit = C))` gives
        `[("https://h/", Ref("C"), ".tar.gz")]`; `"xla-" + xla_hash` gives
        `[("xla-", Ref("xla_hash"))]`; a list gives one template per element.
        """
        out: list[Template] = []
        current: list[Part] | None = None
        joined = False
        index = start
        while index < end:
            kind = self.kinds[index]
            if kind == STR or (kind == NAME and not self.op(index + 1, "(")):
                part: Part = self.string_value(index) if kind == STR else Ref(self.word(index))
                if current is not None and joined:
                    current.append(part)
                else:
                    if current:
                        out.append(tuple(current))
                    current = [part]
                joined = False
            elif self.op(index, "+"):
                joined = True
            elif (
                self.op(index, ".")
                and index + 2 < end
                and self.word(index + 1) == "format"
                and self.op(index + 2, "(")
                and current
            ):
                close = self.match.get(index + 2, end - 1)
                current[-1:] = self._format(current[-1], index + 2, close)
                index = close
            elif kind == OP and not joined:
                if current:
                    out.append(tuple(current))
                current = None
            index += 1
        if current:
            out.append(tuple(current))
        return out

    def _format(self, part: Part, open_: int, close: int) -> list[Part]:
        """`"a{commit}b".format(commit = X)` -> ["a", Ref("X"), "b"]."""
        if not isinstance(part, str):
            return [Ref("?")]
        positional, keywords = self.arguments(open_, close)
        values: dict[str, Part] = {}
        for number, (start, end) in enumerate(positional):
            values[str(number)] = self._single(start, end)
        for name, (start, end) in keywords:
            values[name] = self._single(start, end)
        out: list[Part] = []
        auto = 0
        try:
            pieces = list(string.Formatter().parse(part))
        except ValueError:
            return [part]
        for literal, field_name, _spec, _conv in pieces:
            if literal:
                out.append(literal)
            if field_name is None:
                continue
            if field_name == "":
                field_name = str(auto)
                auto += 1
            out.append(values.get(field_name, Ref("?")))
        return out

    def _single(self, start: int, end: int) -> Part:
        if end - start == 1 and self.kinds[start] == STR:
            return self.string_value(start)
        if end - start == 1 and self.kinds[start] == NAME:
            return Ref(self.word(start))
        return Ref("?")

    def string_tokens(self, start: int, end: int) -> Iterator[int]:
        for index in range(start, end):
            if self.kinds[index] == STR:
                yield index
