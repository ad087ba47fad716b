"""The breadth-first pin walk: closest pin wins, deeper conflicts named, no revisits."""

from __future__ import annotations

from xla_tasks.pins.model import Dep, Pins
from xla_tasks.workspace.graph import Conflict, Wanted, merge_level, walk_pins

A, B, C = "a" * 40, "b" * 40, "c" * 40


def pins(**revs: str) -> Pins:
    return Pins(
        deps={name: Dep(name, rev, f"https://example.com/{name}.git") for name, rev in revs.items()}
    )


def test_first_level_is_the_root_projects_pins_in_order() -> None:
    merged = merge_level({}, [("plugin", pins(iree=A, jax=B))], 1, root="plugin")

    assert [(w.name, w.asked_by, w.level) for w in merged.wanted] == [
        ("iree", "plugin", 1),
        ("jax", "plugin", 1),
    ]
    assert merged.conflicts == []


def test_deeper_pin_of_a_settled_dep_is_a_conflict_naming_both() -> None:
    settled = {"xla": Wanted(Dep("xla", C, "u"), "plugin", 1)}

    merged = merge_level(settled, [("jax", pins(xla=A))], 2, root="plugin")

    assert merged.wanted == []
    (conflict,) = merged.conflicts
    assert conflict.message() == (
        f"xla: jax pins {A[:12]}, plugin pins {C[:12]}; using plugin's (closest to the project)"
    )
    assert conflict.to_dict() == {
        "dep": "xla",
        "used": {"rev": C, "pinned_by": "plugin"},
        "ignored": {"rev": A, "pinned_by": "jax"},
    }


def test_same_pin_deeper_down_is_no_conflict() -> None:
    settled = {"xla": Wanted(Dep("xla", C, "u"), "plugin", 1)}

    merged = merge_level(settled, [("jax", pins(xla=C))], 2, root="plugin")

    assert merged.wanted == merged.conflicts == []


def test_two_pins_at_the_same_depth_keep_the_first_asker() -> None:
    merged = merge_level({}, [("iree", pins(llvm=A)), ("jax", pins(llvm=B))], 2, root="plugin")

    assert [(w.name, w.dep.rev, w.asked_by) for w in merged.wanted] == [("llvm", A, "iree")]
    (conflict,) = merged.conflicts
    assert "same distance from the project" in conflict.message()
    assert conflict.ignored_by == "jax"


def test_a_pin_of_the_root_project_is_ignored() -> None:
    merged = merge_level({}, [("jax", pins(plugin=A, xla=B))], 2, root="plugin")

    assert [w.name for w in merged.wanted] == ["xla"]
    assert merged.conflicts == []


def test_excluded_deps_are_settled_but_not_processed() -> None:
    merged = merge_level(
        {}, [("plugin", pins(jax=A, xla=B))], 1, root="plugin", is_excluded=lambda n: n == "jax"
    )

    assert [w.name for w in merged.wanted] == ["xla"]
    assert [w.name for w in merged.excluded] == ["jax"]


def test_walk_goes_level_by_level_and_reads_pins_of_processed_deps_only() -> None:
    tree = {"jax": pins(xla=A, extra=B), "iree": pins(llvm=C), "extra": pins(jax=C)}
    seen: list[list[str]] = []

    def process(level: list[Wanted]) -> list[tuple[str, Pins]]:
        seen.append([w.name for w in level])
        return [(w.name, tree[w.name]) for w in level if w.name in tree and w.name != "iree"]

    walk = walk_pins("plugin", pins(iree=A, jax=B, xla=C), process)

    assert seen == [["iree", "jax", "xla"], ["extra"]]  # iree "failed": llvm never reached
    assert walk.settled["extra"].asked_by == "jax"
    assert walk.settled["extra"].level == 2
    assert [(c.name, c.ignored_by) for c in walk.conflicts] == [("xla", "jax"), ("jax", "extra")]


def test_walk_terminates_on_cycles() -> None:
    tree = {"a": pins(b=B), "b": pins(a=A, plugin=C)}
    calls = 0

    def process(level: list[Wanted]) -> list[tuple[str, Pins]]:
        nonlocal calls
        calls += 1
        return [(w.name, tree[w.name]) for w in level]

    walk = walk_pins("plugin", pins(a=A), process)

    assert calls == 2
    assert sorted(walk.settled) == ["a", "b"]
    assert walk.conflicts == []


def test_excluded_dep_is_not_brought_back_by_a_deeper_pin() -> None:
    tree = {"jax": pins(xla=A)}

    def process(level: list[Wanted]) -> list[tuple[str, Pins]]:
        return [(w.name, tree[w.name]) for w in level if w.name in tree]

    walk = walk_pins("plugin", pins(jax=B, xla=C), process, is_excluded=lambda n: n == "xla")

    assert [w.name for w in walk.excluded] == ["xla"]
    assert isinstance(walk.conflicts[0], Conflict)  # jax's other pin is still reported
