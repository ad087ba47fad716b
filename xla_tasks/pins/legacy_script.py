"""Read an old-format OpenXLA `sync_deps.py` as data: never imported, never executed.

Those files hold three dict literals, `PINNED_VERSIONS` (name -> sha), `ORIGINS`
(name -> url) and `SUBMODULES` (name -> 1, or a set of names, as iree-amd-aie's last
format had), followed by arbitrary code. That format's `EXCLUDED_SUBMODULES` (a set of
submodule paths skipped in every dep with submodules) becomes each such dep's
`exclude_submodules`, as anchored regexes (`^PATH$`) so it matches the exact path only,
as the old script's `in` test did. We parse the
module with `ast` and read only top-level assignments of those names, so code in a
repository we read cannot run (contract 4). Anything that is not plain data (a call, a
name, an f-string, a later mutation) is a ConfigError naming the file and line.
`BRANCHES` (name -> branch), which our own rendering adds, is read when present.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from xla_tasks import validate
from xla_tasks.errors import ConfigError
from xla_tasks.pins.model import Dep, Pins
from xla_tasks.pins.sync_deps_script import SCRIPT_FILE
from xla_tasks.tomlfile import read_limited_text

_PINNED = "PINNED_VERSIONS"
_ORIGINS = "ORIGINS"
_SUBMODULES = "SUBMODULES"
_BRANCHES = "BRANCHES"
_EXCLUDED = "EXCLUDED_SUBMODULES"
_EXCLUDE = "EXCLUDE_SUBMODULES"  # ours: name -> [PATH-RE, ...], as sync_deps.toml has it
_NAMES = (_PINNED, _ORIGINS, _SUBMODULES, _BRANCHES, _EXCLUDED, _EXCLUDE)
_SETS_ALLOWED = {_SUBMODULES, _EXCLUDED}  # may be written as a set (or list) of strings
_MUTATORS = {"update", "pop", "popitem", "clear", "setdefault", "__setitem__", "__delitem__"}

# A dict value with the line that defined it, for errors.
_Entries = dict[str, tuple[object, int]]


def load_legacy_script(path: Path) -> Pins:
    """The pins a legacy `sync_deps.py` declares; errors name file, key and line."""
    return legacy_pins_from_text(read_limited_text(path), path)


def legacy_pins_from_text(text: str, path: Path) -> Pins:
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:
        raise ConfigError(path, f"invalid Python: {err.msg}", line=err.lineno) from None
    except (RecursionError, MemoryError):  # the parser's own limits on nesting
        raise ConfigError(path, "invalid Python: nested too deeply to read as data") from None
    found = _top_level_dicts(tree, path)
    if _PINNED not in found:
        raise ConfigError(
            path,
            f"no top-level {_PINNED} = {{...}} found",
            hint="not a legacy sync_deps.py; write sync_deps.toml instead",
        )
    pinned = found[_PINNED]
    origins = found.get(_ORIGINS, {})
    submodules = found.get(_SUBMODULES, {})
    branches = found.get(_BRANCHES, {})
    excluded = _excluded_regexes(path, found.get(_EXCLUDED, {}))
    per_dep = found.get(_EXCLUDE, {})
    deps: dict[str, Dep] = {}
    for name, (rev, line) in pinned.items():
        where = f"{_PINNED}.{name}"
        _check(path, where, line, validate.name, name)
        if name not in origins:
            raise ConfigError(path, f"no {_ORIGINS} entry (URL) for {name!r}", where, line)
        url, url_line = origins[name]
        branch, branch_line = branches.get(name, ("main", line))
        flag, flag_line = submodules.get(name, (0, line))
        if isinstance(flag, str) or flag not in (0, 1):  # True/False count as 1/0
            raise ConfigError(
                path, f"expected 1 or 0, got {flag!r}", f"{_SUBMODULES}.{name}", flag_line
            )
        deps[name] = Dep(
            name=name,
            rev=_check(path, where, line, validate.rev, rev),
            url=_check(path, f"{_ORIGINS}.{name}", url_line, validate.url, url),
            branch=_check(path, f"{_BRANCHES}.{name}", branch_line, validate.branch, branch),
            submodules=bool(flag),
            exclude_submodules=_dep_excludes(path, name, per_dep, excluded if flag else ()),
        )
    return Pins(deps=deps, source=SCRIPT_FILE)


def _dep_excludes(
    path: Path, name: str, per_dep: _Entries, shared: tuple[str, ...]
) -> tuple[str, ...]:
    """The dep's own `EXCLUDE_SUBMODULES` regexes (our rendering), then the shared ones."""
    value, line = per_dep.get(name, ((), 0))
    if not isinstance(value, tuple):
        raise ConfigError(path, "expected a list of regexes", f"{_EXCLUDE}.{name}", line)
    own = tuple(str(regex) for regex in value)
    for regex in own:
        try:
            validate.path_regex(regex)
        except ValueError as err:
            raise ConfigError(path, str(err), f"{_EXCLUDE}.{name}", line) from None
    return own + tuple(regex for regex in shared if regex not in own)


def _excluded_regexes(path: Path, entries: _Entries) -> tuple[str, ...]:
    """`EXCLUDED_SUBMODULES` paths as anchored regexes, sorted (a set has no order)."""
    out = []
    for sub_path, (_, line) in entries.items():
        _check(path, f"{_EXCLUDED}.{sub_path}", line, validate.relative_path, sub_path)
        out.append(f"^{re.escape(sub_path)}$")
    return tuple(sorted(out))


def _check(path: Path, key: str, line: int, check: Callable[[object], str], value: object) -> str:
    try:
        return check(value)
    except ValueError as err:
        raise ConfigError(path, str(err), key, line) from None


def _top_level_dicts(tree: ast.Module, path: Path) -> dict[str, _Entries]:
    """Our names' values, from module-level statements only; a second write is an error."""
    found: dict[str, _Entries] = {}
    for stmt in tree.body:
        for name, value in _assigned(stmt, path):
            if name in found:
                raise ConfigError(
                    path,
                    f"{name} is assigned or changed again; cannot read it as data",
                    name,
                    stmt.lineno,
                )
            found[name] = _collection_value(value, name, path)
    return found


def _collection_value(node: ast.expr, name: str, path: Path) -> _Entries:
    """A dict literal, or for `SUBMODULES`/`EXCLUDED_SUBMODULES` a set of strings (-> 1)."""
    if name in _SETS_ALLOWED and _is_empty_set_call(node):
        return {}
    if name not in _SETS_ALLOWED or not isinstance(node, ast.Set | ast.List | ast.Tuple):
        if name == _EXCLUDED:
            raise ConfigError(path, "expected a literal set of submodule paths", name, node.lineno)
        return _dict_value(node, name, path)
    entries: _Entries = {}
    for element in node.elts:
        if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
            raise ConfigError(path, "set members must be string literals", name, element.lineno)
        entries[element.value] = (1, element.lineno)
    return entries


def _assigned(stmt: ast.stmt, path: Path) -> list[tuple[str, ast.expr]]:
    """(name, value) for plain assignments to our names; any other write is refused."""
    if isinstance(stmt, ast.Expr):
        changed = _mutating_call(stmt.value)
        if changed:
            raise _changed_by_code(path, changed, stmt.lineno)
        return []
    value: ast.expr | None
    if isinstance(stmt, ast.Assign):
        targets, value = stmt.targets, stmt.value
    elif isinstance(stmt, ast.AnnAssign):
        targets, value = [stmt.target], stmt.value
    elif isinstance(stmt, ast.AugAssign):
        targets, value = [stmt.target], None
    elif isinstance(stmt, ast.Delete):
        targets, value = stmt.targets, None
    else:
        return []
    out: list[tuple[str, ast.expr]] = []
    for target in targets:
        name = _target_name(target)
        if name is None:
            continue
        if value is None or not isinstance(target, ast.Name):
            raise _changed_by_code(path, name, stmt.lineno)
        out.append((name, value))
    return out


def _changed_by_code(path: Path, name: str, line: int) -> ConfigError:
    return ConfigError(path, "changed by code; cannot read it as data", name, line)


def _target_name(target: ast.expr) -> str | None:
    """Which of our names an assignment target writes (`X = `, `X[k] = `, `a, X = `)."""
    if isinstance(target, ast.Name):
        return target.id if target.id in _NAMES else None
    if isinstance(target, ast.Subscript | ast.Attribute):
        return _target_name(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        names = [_target_name(element) for element in target.elts]
        return next((name for name in names if name), None)
    if isinstance(target, ast.Starred):
        return _target_name(target.value)
    return None


def _mutating_call(expr: ast.expr) -> str | None:
    """`PINNED_VERSIONS.update(...)` and friends: the name they change, else None."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and isinstance(expr.func.value, ast.Name)
        and expr.func.value.id in _NAMES
        and expr.func.attr in _MUTATORS
    ):
        return expr.func.value.id
    return None


def _is_empty_set_call(node: ast.expr) -> bool:
    """`set()`: how Python spells an empty set literal."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "set"
        and not node.args
        and not node.keywords
    )


def _dict_value(node: ast.expr, name: str, path: Path) -> _Entries:
    """A `{...}` literal or `dict(key=value, ...)` call with literal string keys."""
    if isinstance(node, ast.Dict):
        pairs: list[tuple[ast.expr | None, ast.expr]] = list(
            zip(node.keys, node.values, strict=True)
        )
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ):
        pairs = [
            (None if kw.arg is None else ast.Constant(kw.arg, lineno=kw.lineno), kw.value)
            for kw in node.keywords
        ]
    else:
        raise ConfigError(
            path, "not a literal dict; cannot read it without running code", name, node.lineno
        )
    entries: _Entries = {}
    for key_node, value_node in pairs:
        line = value_node.lineno
        if not (isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)):
            raise ConfigError(path, "keys must be string literals", name, line)
        key = key_node.value
        if key in entries:
            raise ConfigError(path, f"duplicate key {key!r}", f"{name}.{key}", line)
        if name == _EXCLUDE and isinstance(value_node, ast.List | ast.Tuple):
            entries[key] = (_strings(value_node, f"{name}.{key}", path), line)
            continue
        if not isinstance(value_node, ast.Constant) or isinstance(value_node.value, bytes):
            raise ConfigError(
                path,
                "value is not a literal; cannot read it without running code",
                f"{name}.{key}",
                line,
            )
        entries[key] = (value_node.value, line)
    return entries


def _strings(node: ast.List | ast.Tuple, key: str, path: Path) -> tuple[str, ...]:
    """A list literal of string literals."""
    out = []
    for element in node.elts:
        if not (isinstance(element, ast.Constant) and isinstance(element.value, str)):
            raise ConfigError(path, "list members must be string literals", key, element.lineno)
        out.append(element.value)
    return tuple(out)
