"""Which moves of a roll to keep when the verify command fails: the search, as a pure function.

The gate (`roll --verify`, contract 5.6) knows the moved items (git deps, packages) and a
predicate "does CMD pass with these moves applied?". It wants a set of moves that passed,
as large as it can find, with as few runs as it can, since one run is a build and a test.

The strategy, in the order runs happen:
1. everything moved (the common nightly case ends here: one run);
2. nothing moved: if that fails too, the base is broken and nothing can be decided;
3. halving: a binary search over prefixes of the items for the first one whose move makes
   CMD fail (the prefix before it passed, and is kept). ceil(log2 n) runs;
4. the rest, all at once, on top of what is kept: with one culprit, it passes, and the
   search is done;
5. otherwise (a second culprit, or an item that fails only with another one): add the
   remaining items one at a time, keeping each that passes (greedy add-one).
6. with bisection, each culprit that has intermediate steps (a git dep's first-parent
   commits) is binary-searched for its first bad step and kept at the step before it.

Invariant: the kept set is always one CMD passed with, so the result needs no extra check,
whatever the predicate does (two items that fail only together end with the earlier one
kept and the later one held back). Worst case, n items: n + ceil(log2 n) + 2 runs, plus
ceil(log2 m) per bisected dep with m commits. `max_tries` stops the search where it is:
what passed so far is kept, the undecided items are held back untested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Moves = dict[str, str]  # item name -> the value it is moved to (absent: left at its old value)
Predicate = Callable[[Mapping[str, str]], bool]
Steps = Callable[[str], Sequence[str]]  # item name -> its values oldest first, ending at new


@dataclass(frozen=True, slots=True)
class Item:
    """One moved thing: `new` is where the roll would put it."""

    name: str
    new: str


@dataclass(slots=True)
class Culprit:
    """A held-back item: the value that failed and the run that showed it."""

    name: str
    failed_with: str | None = None  # None: never tried on its own (out of tries)
    try_number: int | None = None
    first_bad: str | None = None  # set by bisection
    note: str = ""


@dataclass(slots=True)
class SearchResult:
    kept: Moves
    held_back: list[Culprit] = field(default_factory=list)
    tries: int = 0
    base_broken: bool = False


class _OutOfTries(Exception):
    pass


class _Search:
    """The state of one search: what is kept (passed), what is held back, what is pending."""

    def __init__(self, items: Sequence[Item], passes: Predicate, max_tries: int | None) -> None:
        self.passes = passes
        self.max_tries = max_tries
        self.tries = 0
        self.last_fail = 0
        self.kept: Moves = {}
        self.pending: list[Item] = list(items)
        self.held: list[Culprit] = []

    def test(self, extra: Mapping[str, str]) -> bool:
        """Run the predicate on what is kept plus `extra`; a pass makes that the kept set."""
        if self.max_tries is not None and self.tries >= self.max_tries:
            raise _OutOfTries
        self.tries += 1
        moves = {**self.kept, **extra}
        if self.passes(moves):
            self.kept = moves
            return True
        self.last_fail = self.tries
        return False

    def hold(self, item: Item) -> None:
        """Hold `item` back; the last failing run is the one that showed it."""
        self.held.append(Culprit(item.name, item.new, self.last_fail))

    def halve(self) -> None:
        """Kept passes, kept + pending fails: find the first pending item that breaks it."""
        hi = len(self.pending)  # the prefix of this length is known to fail
        while hi > 1:
            mid = hi // 2
            if self.test(_moves(self.pending[:mid])):
                del self.pending[:mid]
                hi -= mid
            else:
                hi = mid
        self.hold(self.pending.pop(0))

    def rest(self) -> None:
        """Everything left at once; if that fails, one at a time (greedy add-one)."""
        if not self.pending or self.test(_moves(self.pending)):
            self.pending.clear()
            return
        if len(self.pending) == 1:
            self.hold(self.pending.pop())  # the failing "rest" was this item alone
            return
        while self.pending:
            item = self.pending[0]
            if not self.test({item.name: item.new}):
                self.hold(item)
            self.pending.pop(0)

    def bisect(self, culprit: Culprit, steps: Sequence[str]) -> None:
        """First bad step of a culprit: the step before it (or its old value) passed."""
        lo, hi = -1, len(steps) - 1  # old passed (it is kept as it is); the last step failed
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.test({culprit.name: steps[mid]}):
                lo = mid
            else:
                hi, culprit.try_number = mid, self.tries
        culprit.first_bad = culprit.failed_with = steps[hi]


def _moves(items: Sequence[Item]) -> Moves:
    return {item.name: item.new for item in items}


def find_passing_set(
    items: Sequence[Item],
    passes: Predicate,
    *,
    max_tries: int | None = None,
    steps: Steps | None = None,
) -> SearchResult:
    """The largest set of moves found for which `passes` holds (see the module docstring).

    `steps(name)` gives an item's values to bisect over (oldest first, ending at its new
    value); return one value (or none) for an item that cannot be bisected.
    """
    search = _Search(items, passes, max_tries)
    try:
        if search.test(_moves(items)):
            return SearchResult(kept=search.kept, tries=search.tries)
        if not search.test({}):
            return SearchResult(kept={}, tries=search.tries, base_broken=True)
        search.halve()
        search.rest()
        if steps is not None:
            _bisect_all(search, steps)
    except _OutOfTries:
        for culprit in search.held:
            if culprit.first_bad is None and culprit.note == "bisecting":
                culprit.note = f"bisection stopped after {search.tries} tries (--max-tries)"
        search.held += [
            Culprit(item.name, note="not tried (--max-tries)") for item in search.pending
        ]
    return SearchResult(kept=search.kept, held_back=search.held, tries=search.tries)


def _bisect_all(search: _Search, steps: Steps) -> None:
    for culprit in list(search.held):
        values = list(steps(culprit.name))
        if len(values) < 2:
            if values:
                culprit.first_bad = values[0]  # one commit: it is the first bad one
            continue
        culprit.note = "bisecting"
        search.bisect(culprit, values)
        culprit.note = ""
