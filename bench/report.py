"""The benchmark's result as one JSON-ready dict, and as text tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scenarios import SCENARIOS, Tool, World


def size_result(world: World, all_tools: Sequence[Tool]) -> dict[str, dict[str, Any]]:
    """Per scenario, per tool: its cell, with the ratio to its limit row."""
    by_name = {t.name: t for t in all_tools}
    return {
        scenario: {name: cell.as_dict(row[by_name[name].base].median) for name, cell in row.items()}
        for scenario, row in world.cells.items()
    }


def growth(sizes: Mapping[int, Mapping[str, Any]], all_tools: Sequence[Tool]) -> dict[str, Any]:
    """Seconds per extra repo between the smallest and largest N, and that slope over the
    slope of the tool's limit row."""
    if len(sizes) < 2:
        return {}
    low, high = min(sizes), max(sizes)
    found: dict[str, Any] = {"from": low, "to": high}
    for scenario in SCENARIOS:
        slopes = {}
        for tool in all_tools:
            a = sizes[low][scenario][tool.name]["seconds"]
            b = sizes[high][scenario][tool.name]["seconds"]
            slopes[tool.name] = None if a is None or b is None else (b - a) / (high - low)
        found[scenario] = {
            tool.name: {
                "slope": slopes[tool.name],
                "ratio": _ratio(slopes[tool.name], slopes[tool.base]),
            }
            for tool in all_tools
        }
    return found


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


# --- text ----------------------------------------------------------------------------------


def _seconds(entry: Mapping[str, Any], is_base: bool) -> str:
    if entry["error"]:
        return "n/a" if entry["error"] in ("not installed", "not supported yet") else "FAILED"
    text = f"{entry['seconds']:.3f}s"
    return text if is_base or entry["ratio"] is None else f"{text} {entry['ratio']:.2f}x"


def size_table(
    n: int, row: Mapping[str, Mapping[str, Any]], all_tools: Sequence[Tool]
) -> list[str]:
    lines = [
        f"N={n}: seconds, and time / the limit with the same history (limit rows: plain git,"
        " all repos at once)",
        f"{'tool':<28}" + "".join(f"{s:<17}" for s in SCENARIOS) + "git noop/moved peak MB",
    ]
    for tool in all_tools:
        cells = [row[s][tool.name] for s in SCENARIOS]
        texts = [_seconds(c, tool.base == tool.name) for c in cells]
        procs = "/".join(str(row[s][tool.name]["git_processes"]) for s in ("noop", "moved"))
        procs = "" if procs == "None/None" else procs
        peak = max(c["peak_mb"] for c in cells)
        lines.append(
            f"{tool.name:<28}" + "".join(f"{t:<17}" for t in texts) + f"{procs:<15}{peak:.0f}"
        )
    return lines


def growth_table(found: Mapping[str, Any], all_tools: Sequence[Tool]) -> list[str]:
    if not found:
        return []
    lines = [
        f"growth: seconds per extra repo, (t{found['to']} - t{found['from']}) / "
        f"{found['to'] - found['from']}, and / the limit's slope",
        f"{'tool':<28}" + "".join(f"{s:<17}" for s in SCENARIOS),
    ]
    for tool in all_tools:
        texts = []
        for scenario in SCENARIOS:
            entry = found[scenario][tool.name]
            if entry["slope"] is None:
                texts.append("n/a")
            elif entry["ratio"] is None or tool.base == tool.name:
                texts.append(f"{entry['slope'] * 1000:.1f}ms")
            else:
                texts.append(f"{entry['slope'] * 1000:.1f}ms {entry['ratio']:.2f}x")
        lines.append(f"{tool.name:<28}" + "".join(f"{t:<17}" for t in texts))
    return lines


def startup_table(found: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = ["start-up                       seconds  / import invoke"]
    for label, entry in found.items():
        failed = f"  (exit {entry['exit']})" if entry["exit"] else ""
        ratio = entry["ratio_to_import_invoke"]
        lines.append(f"{label:<31}{entry['seconds']:.3f}s   {ratio:.2f}x{failed}")
    return lines


def submodule_table(found: Mapping[str, Any]) -> list[str]:
    lines = [
        (
            f"submodule world: cold, {found['submodules']} submodules ({found['nested']} of them "
            "nested), / plain git"
        )
    ]
    for name, entry in found["rows"].items():
        complete = (
            "" if entry["complete"] else f"  (INCOMPLETE: {entry['on_commit']} on their commit)"
        )
        if entry["error"]:
            complete = f"  ({entry['error']})"
        again = ""
        if "noop_seconds" in entry:
            again = (
                f"  again: {entry['noop_seconds']:.3f}s, {entry['noop_git_processes']} git procs"
            )
        lines.append(f"{name:<62}{_seconds(entry, name == found['base']):<16}{again}{complete}")
    return lines


def bytes_table(found: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = ["bytes received, cold sync over HTTP (KiB; / plain git in the same mode)"]
    full = found.get("full", {}).get("xla-tasks", {}).get("bytes")
    for mode, row in found.items():
        base = row["plain git"]["bytes"]
        texts = []
        for name, entry in row.items():
            if entry["bytes"] is None or entry.get("error"):
                texts.append(f"{name} {'n/a' if entry['bytes'] is None else 'FAILED'}")
                continue
            ratio = f" {entry['bytes'] / base:.2f}x" if base and name != "plain git" else ""
            texts.append(f"{name} {entry['bytes'] / 1024:.0f}{ratio}")
        of_full = row["xla-tasks"]["bytes"]
        share = f"  (xla-tasks: {of_full / full:.2f} of full)" if full and of_full else ""
        lines.append(f"{mode:<10}" + ", ".join(texts) + share)
    return lines


def cache_table(found: Mapping[str, Any]) -> list[str]:
    if "error" in found:
        return [f"shared cache: n/a ({found['error']})"]
    lines = [
        "shared cache, per history mode: no cache, then an empty --cache filled (first) and "
        "used (warm); seconds, KiB from upstream"
    ]
    for mode, rows in found.items():
        texts = [
            f"{label} {rows[label]['seconds']:.3f}s {rows[label]['bytes_from_upstream'] / 1024:.0f}"
            + (" FAILED" if rows[label]["error"] else "")
            for label in ("no cache", "first", "warm")
        ]
        ratio = rows["first_to_no_cache"]
        lines.append(
            f"{mode:<10}" + ", ".join(texts) + f"  (first / no cache: {ratio['seconds']:.2f}x "
            f"time, {ratio['bytes']:.2f}x bytes)"
        )
    return lines


def _cell(entry: Mapping[str, Any], key: str, unit: Callable[[float], str]) -> str:
    value = entry.get(key)
    if value is None:
        return "n/a"
    ratio = entry.get(f"{key}_ratio")
    return unit(value) + (f" {ratio:.2f}x" if ratio is not None else "")


def real_shape_table(found: Mapping[str, Any]) -> list[str]:
    """The real-shape world: each step, plain git then xla-tasks with its ratios."""
    sizes = found["sizes"]
    lines = [
        f"real-shape world over HTTP: {sizes['deps']} deps with main {sizes['ahead']} commits "
        f"past the pin, {sizes['submodules']} submodules (one moves back 4 commits), "
        "torch_xla at pytorch/xla; / plain git",
        f"{'step':<42}{'tool':<11}{'seconds':<16}{'KiB received':<18}git processes",
    ]
    steps = [(f"tips far ahead, {what}", rows) for what, rows in found["far_ahead"].items()]
    subs = f"{sizes['submodules']} submodules"
    steps += [(f"{subs}, {step}", rows) for step, rows in found["submodules"].items()]
    steps += [(f"nested layout, {step}", rows) for step, rows in found["nested"].items()]
    for label, rows in steps:
        for name, entry in rows.items():
            texts = [
                _cell(entry, "seconds", lambda v: f"{v:.3f}s"),
                _cell(entry, "bytes", lambda v: f"{v / 1024:.0f}"),
                _cell(entry, "git_processes", lambda v: f"{v:.0f}"),
            ]
            failed = f"  FAILED: {entry['error']}" if entry["error"] else ""
            lines.append(f"{label:<42}{name:<11}{texts[0]:<16}{texts[1]:<18}{texts[2]}{failed}")
            label = ""
    return lines


def text(result: Mapping[str, Any], all_tools: Sequence[Tool]) -> str:
    if "sizes" not in result:  # --only real-shape
        return "\n".join(real_shape_table(result["real_shape"]))
    versions = ", ".join(f"{k} {v or 'not installed'}" for k, v in result["versions"].items())
    lines = [
        f"repos {', '.join(map(str, result['sizes']))} x {result['commits']} commits x "
        f"{result['files']} files, median of {result['runs']} runs, --jobs {result['jobs']}; "
        f"whole benchmark {result['total_seconds']:.0f}s",
        f"git {result['git']}, Python {result['python']}, {result['cores']} cores; {versions}",
        "file:// URLs except the bytes and cache rows (HTTP on 127.0.0.1); sections: "
        + ", ".join(f"{k} {v:.0f}s" for k, v in result["section_seconds"].items()),
    ]
    for n, row in result["sizes"].items():
        lines += ["", *size_table(int(n), row, all_tools)]
    lines += ["", *growth_table(result["growth"], all_tools)]
    lines += ["", *startup_table(result["startup"])]
    for key, render in (
        ("submodules", submodule_table),
        ("history_bytes", bytes_table),
        ("cache", cache_table),
        ("real_shape", real_shape_table),
    ):
        if result.get(key):
            lines += ["", *render(result[key])]
    return "\n".join(lines + _notes(result))


def _notes(result: Mapping[str, Any]) -> list[str]:
    """Failures and what xla-tasks did per scenario."""
    notes = []
    for n, row in result["sizes"].items():
        for scenario, cells in row.items():
            for name, entry in cells.items():
                if entry["error"] and entry["error"] not in ("not installed", "not supported yet"):
                    notes.append(f"N={n} {scenario} / {name}: {entry['error']}")
            actions = cells["xla-tasks"].get("actions", {})
            if actions:
                done = ", ".join(f"{k or '(none)'} x{v}" for k, v in sorted(actions.items()))
                notes.append(f"N={n} {scenario} / xla-tasks actions: {done}")
    return ["", *notes] if notes else []
