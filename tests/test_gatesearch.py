"""The gate's search on plain predicates: what it keeps, what it holds back, how many runs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import pytest

from xla_tasks.roll.search import Item, find_passing_set

NAMES = ["iree", "jax", "xla", "jaxlib", "iree-compiler"]


def _items(names: list[str]) -> list[Item]:
    return [Item(name, f"{name}-new") for name in names]


def _counting(passes: Callable[[Mapping[str, str]], bool]) -> tuple[list[dict[str, str]], ...]:
    calls: list[dict[str, str]] = []

    def predicate(moves: Mapping[str, str]) -> bool:
        calls.append(dict(moves))
        return passes(moves)

    return calls, predicate  # type: ignore[return-value]


def test_everything_passing_costs_one_run() -> None:
    calls, passes = _counting(lambda moves: True)
    result = find_passing_set(_items(NAMES), passes)
    assert result.kept == {name: f"{name}-new" for name in NAMES}
    assert result.held_back == []
    assert len(calls) == result.tries == 1


def test_a_broken_base_is_reported_after_two_runs_and_keeps_nothing() -> None:
    calls, passes = _counting(lambda moves: False)
    result = find_passing_set(_items(NAMES), passes)
    assert result.base_broken
    assert result.kept == {}
    assert calls == [{name: f"{name}-new" for name in NAMES}, {}]


@pytest.mark.parametrize("culprit", NAMES)
def test_one_culprit_is_found_by_halving_in_few_runs(culprit: str) -> None:
    calls, passes = _counting(lambda moves: culprit not in moves)
    result = find_passing_set(_items(NAMES), passes)
    assert [c.name for c in result.held_back] == [culprit]
    assert set(result.kept) == set(NAMES) - {culprit}
    # everything, the base, ceil(log2 5) halvings, and the rest (unless the culprit was last)
    assert result.tries <= 2 + math.ceil(math.log2(len(NAMES))) + 1
    failing = calls[result.held_back[0].try_number - 1]
    assert culprit in failing
    assert passes({k: v for k, v in failing.items() if k != culprit})


def test_two_items_failing_only_together_keep_the_first_and_hold_back_the_second() -> None:
    result = find_passing_set(_items(NAMES), lambda moves: not {"jax", "jaxlib"} <= set(moves))
    assert [c.name for c in result.held_back] == ["jaxlib"]
    assert set(result.kept) == set(NAMES) - {"jaxlib"}


@pytest.mark.parametrize("bad", list(itertools.combinations(NAMES, 2)))
def test_two_independent_culprits_use_the_add_one_fallback(bad: tuple[str, str]) -> None:
    result = find_passing_set(_items(NAMES), lambda moves: not set(bad) & set(moves))
    assert sorted(c.name for c in result.held_back) == sorted(bad)
    assert set(result.kept) == set(NAMES) - set(bad)
    assert result.tries <= len(NAMES) + math.ceil(math.log2(len(NAMES))) + 2


@pytest.mark.parametrize("count", range(1, 9))
def test_worst_case_every_item_a_culprit_stays_within_the_documented_bound(count: int) -> None:
    names = [f"dep{i}" for i in range(count)]
    result = find_passing_set(_items(names), lambda moves: not moves)
    assert sorted(c.name for c in result.held_back) == names
    assert result.kept == {}
    assert result.tries <= count + math.ceil(math.log2(count)) + 2


def test_every_kept_set_is_one_the_predicate_passed_with() -> None:
    """Any predicate at all over 4 items: the kept set is always one that was seen passing."""
    names = NAMES[:4]
    subsets = [frozenset(c) for r in range(5) for c in itertools.combinations(names, r)]
    for passing in itertools.product([False, True], repeat=len(subsets)):
        table = dict(zip(subsets, passing, strict=True))
        result = find_passing_set(_items(names), lambda moves, t=table: t[frozenset(moves)])
        assert result.tries <= len(names) + 2 + 2  # n + ceil(log2 n) + 2, whatever CMD does
        if not result.base_broken:
            assert table[frozenset(result.kept)]
            held = {c.name for c in result.held_back}
            assert held | set(result.kept) == set(names)


def test_max_tries_keeps_what_passed_so_far_and_holds_back_the_untried() -> None:
    calls, passes = _counting(lambda moves: "xla" not in moves)
    result = find_passing_set(_items(NAMES), passes, max_tries=3)
    assert len(calls) == 3  # everything, base, first half (iree, jax: passes)
    assert result.kept == {"iree": "iree-new", "jax": "jax-new"}
    assert [c.name for c in result.held_back] == ["xla", "jaxlib", "iree-compiler"]
    assert all(c.note == "not tried (--max-tries)" for c in result.held_back)


def test_bisect_finds_the_first_bad_step_and_keeps_the_one_before() -> None:
    steps = [f"c{i}" for i in range(1, 9)]  # c8 is the new pin; c5 broke it
    calls, passes = _counting(lambda moves: moves.get("xla", "c0") < "c5")
    items = [Item("jax", "jax-new"), Item("xla", "c8")]
    result = find_passing_set(
        items, passes, steps=lambda name: steps if name == "xla" else ["jax-new"]
    )
    assert result.kept == {"jax": "jax-new", "xla": "c4"}
    (culprit,) = result.held_back
    assert culprit.first_bad == "c5"
    assert calls[culprit.try_number - 1]["xla"] == "c5"
    assert result.tries == 3 + math.ceil(math.log2(len(steps)))


def test_bisect_when_the_first_commit_is_bad_keeps_the_old_pin() -> None:
    steps = ["c1", "c2", "c3"]
    result = find_passing_set(
        [Item("xla", "c3")], lambda moves: "xla" not in moves, steps=lambda name: steps
    )
    assert result.kept == {}
    assert result.held_back[0].first_bad == "c1"
