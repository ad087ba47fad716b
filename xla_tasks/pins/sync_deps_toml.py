"""The pin file, `sync_deps.toml`: which commit of each dep a project builds against.

This module owns the model, its validation and its canonical form. Canonical means the
same pins always give the same bytes: schema first, deps and schedules sorted by name,
keys in a fixed order per table, every field written explicitly. tomli-w keeps insertion
order, so the order is decided here, in `pins_to_dict`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from xla_tasks import validate
from xla_tasks.pins.model import SYNC_DEPS_TOML, Dep, PackageRule, Pins, Schedule
from xla_tasks.tomlfile import (
    TomlDoc,
    check_keys,
    dump_toml,
    field_of,
    parse_toml,
    read_limited_text,
    schema_of,
    table_of,
)

PIN_FILE = SYNC_DEPS_TOML  # named in the model, which cannot import this module
_DEP_KEYS = {"rev", "url", "branch", "submodules", "exclude_submodules"}
_SCHEDULE_KEYS = {"deps", "packages", "verify"}
_PACKAGE_KEYS = {"name", "requirements", "index_url", "find_links", "pre"}


def load_pin_file(path: Path) -> Pins:
    """Read and validate a `sync_deps.toml`; errors name file, key and line."""
    return parse_pin_file(read_limited_text(path), path)


def parse_pin_file(text: str, path: Path) -> Pins:
    """`load_pin_file` of a text read elsewhere (from a commit); `path` names it in errors."""
    doc = parse_toml(text, path)
    check_keys(doc, "", doc.data, {"schema", "deps", "schedules"})
    schema_of(doc)
    deps: dict[str, Dep] = {}
    for name, raw in table_of(doc, "deps", doc.data.get("deps", {})).items():
        deps[name] = _dep(doc, name, raw)
    schedules: dict[str, Schedule] = {}
    for name, raw in table_of(doc, "schedules", doc.data.get("schedules", {})).items():
        schedules[name] = read_schedule(doc, "schedules", name, raw, deps, "pinned deps")
    return Pins(deps=deps, schedules=schedules)


def _checked_name(doc: TomlDoc, key: str, value: str) -> str:
    try:
        return validate.name(value)
    except ValueError as err:
        raise doc.error(key, str(err)) from None


def _dep(doc: TomlDoc, name: str, raw: object) -> Dep:
    key = f"deps.{name}"
    _checked_name(doc, key, name)
    table = table_of(doc, key, raw)
    check_keys(doc, key, table, _DEP_KEYS)
    return Dep(
        name=name,
        rev=field_of(doc, key, table, "rev", str, check=validate.rev),
        url=field_of(doc, key, table, "url", str, check=validate.url),
        branch=field_of(doc, key, table, "branch", str, default="main", check=validate.branch),
        submodules=field_of(doc, key, table, "submodules", bool, default=False),
        exclude_submodules=_string_list(
            doc,
            f"{key}.exclude_submodules",
            field_of(doc, key, table, "exclude_submodules", list, default=[]),
            validate.path_regex,
        ),
    )


def read_schedule(
    doc: TomlDoc, table_key: str, name: str, raw: object, deps: Collection[str], known: str
) -> Schedule:
    """A `[TABLE_KEY.NAME]` schedule (`schedules` of sync_deps.toml, or `repos.X.schedules`
    of a registry entry, for projects that pin natively); `deps` are the names it may list,
    `known` says what they are."""
    key = f"{table_key}.{name}"
    _checked_name(doc, key, name)
    table = table_of(doc, key, raw)
    check_keys(doc, key, table, _SCHEDULE_KEYS)
    dep_names = field_of(doc, key, table, "deps", list, default=[])
    for dep in dep_names:
        if dep not in deps:
            raise doc.error(
                f"{key}.deps",
                f"unknown dep {dep!r}",
                hint=f"{known}: {', '.join(sorted(deps)) or 'none'}",
            )
    packages = field_of(doc, key, table, "packages", list, default=[])
    rules = tuple(_package(doc, f"{key}.packages", raw_rule) for raw_rule in packages)
    verify = field_of(doc, key, table, "verify", str, default=None, check=_command)
    return Schedule(name=name, deps=tuple(dep_names), packages=rules, verify=verify)


def _command(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a shell command, got an empty string")
    return value


def _index_url(value: str) -> str:
    if not value.startswith(("https://", "http://", "file://")):
        raise ValueError(f"invalid URL {value!r}: expected https://, http:// or file://")
    return value


def _string_list(doc: TomlDoc, key: str, values: list[Any], check: Any) -> tuple[str, ...]:
    for value in values:
        if not isinstance(value, str):
            raise doc.error(key, f"expected a list of strings, got {value!r}")
        try:
            check(value)
        except ValueError as err:
            raise doc.error(key, str(err)) from None
    return tuple(values)


def _package(doc: TomlDoc, key: str, raw: object) -> PackageRule:
    table = table_of(doc, key, raw)
    check_keys(doc, key, table, _PACKAGE_KEYS)
    requirements = field_of(doc, key, table, "requirements", list)
    find_links = field_of(doc, key, table, "find_links", list, default=[])
    return PackageRule(
        name=field_of(doc, key, table, "name", str, check=validate.name),
        requirements=_string_list(doc, f"{key}.requirements", requirements, validate.repo_file),
        index_url=field_of(doc, key, table, "index_url", str, default=None, check=_index_url),
        find_links=_string_list(doc, f"{key}.find_links", find_links, _index_url),
        pre=field_of(doc, key, table, "pre", bool, default=False),
    )


def pins_to_dict(pins: Pins) -> dict[str, Any]:
    """The canonical dict: fixed key order, sorted tables, defaults written out."""
    data: dict[str, Any] = {"schema": 1, "deps": {}}
    for name in sorted(pins.deps):
        dep = pins.deps[name]
        data["deps"][name] = {
            "rev": dep.rev,
            "url": dep.url,
            "branch": dep.branch,
            "submodules": dep.submodules,
        }
        if dep.exclude_submodules:  # written only when set: existing files keep their bytes
            data["deps"][name]["exclude_submodules"] = list(dep.exclude_submodules)
    if pins.schedules:
        data["schedules"] = {
            name: _schedule_dict(pins.schedules[name]) for name in sorted(pins.schedules)
        }
    return data


def _schedule_dict(schedule: Schedule) -> dict[str, Any]:
    out: dict[str, Any] = {"deps": list(schedule.deps)}
    if schedule.packages:
        out["packages"] = [_package_dict(rule) for rule in schedule.packages]
    if schedule.verify is not None:
        out["verify"] = schedule.verify
    return out


def _package_dict(rule: PackageRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name, "requirements": list(rule.requirements)}
    if rule.index_url:
        out["index_url"] = rule.index_url
    if rule.find_links:
        out["find_links"] = list(rule.find_links)
    out["pre"] = rule.pre
    return out


def dump_pins(pins: Pins) -> str:
    return dump_toml(pins_to_dict(pins))
