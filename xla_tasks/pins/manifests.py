"""`pin --import FILE`: a west `west.yml` or a vcstool `.repos` file as sync_deps.toml pins.

Both tools keep the same facts we do (name, URL, commit), in YAML. PyYAML's `safe_load`
reads them as plain data (no tags, no code); the shapes are checked here and every value
goes through the same validation as a hand-written `sync_deps.toml`, so a bad manifest is
a one-line error naming the file and key. Only frozen manifests convert: sync_deps.toml
pins commits, and a branch or tag in the manifest has no commit without asking a server,
so the error says how each tool freezes one (`west manifest --freeze`,
`vcs export --exact`).

Bounded like the pin files: at most 4 MiB is read (`tomlfile.read_limited_text`), nesting
deeper than MAX_DEPTH is refused before anything is built (real manifests nest 4 deep), and
an error shows a value only when it is a short scalar, so an alias bomb (`&a [*a, *a]`)
is never expanded into a message.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from xla_tasks import validate
from xla_tasks.errors import ConfigError
from xla_tasks.pins.model import Dep, Pins
from xla_tasks.pins.sync_deps_toml import PIN_FILE
from xla_tasks.tomlfile import read_limited_text

MAX_DEPTH = 64  # nested lists and mappings; a manifest needs 4

_FREEZE_HINT = {
    "west": "freeze it first: west manifest --freeze -o west-frozen.yml",
    "vcstool": "freeze it first: vcs export --exact > frozen.repos",
}


def import_manifest(path: Path) -> Pins:
    """The pins a west or vcstool manifest declares (format told apart by its top key)."""
    data = _load_yaml(path)
    if isinstance(data, dict) and isinstance(data.get("manifest"), dict):
        deps = _west_deps(path, data["manifest"])
    elif isinstance(data, dict) and isinstance(data.get("repositories"), dict):
        deps = _vcstool_deps(path, data["repositories"])
    else:
        raise ConfigError(
            path,
            "neither a west manifest (`manifest:` with `projects:`) "
            "nor a vcstool file (`repositories:`)",
        )
    if not deps:
        raise ConfigError(path, "declares no git repositories to pin")
    return Pins(deps={dep.name: dep for dep in deps})


def _load_yaml(path: Path) -> object:
    """Plain data from a YAML file of at most 4 MiB and MAX_DEPTH levels (libyaml if any)."""
    import yaml  # only --import needs it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = read_limited_text(path)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):  # a flat stream: no recursion
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(
                        path,
                        f"invalid YAML: lists or mappings nested more than {MAX_DEPTH} deep",
                        line=event.start_mark.line + 1,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)  # a safe loader: plain data, no tags
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(path, f"invalid YAML: {problem}", line=line) from None


def _west_deps(path: Path, manifest: dict[str, Any]) -> list[Dep]:
    """west: each project's URL is `url`, else its remote's `url-base` + `/` + repo-path."""
    defaults = _table(path, "manifest.defaults", manifest.get("defaults", {}))
    remotes: dict[str, str] = {}
    for index, raw in enumerate(_list(path, "manifest.remotes", manifest.get("remotes", []))):
        entry = _table(path, f"manifest.remotes[{index}]", raw)
        if not isinstance(entry.get("url-base"), str):
            raise ConfigError(path, "url-base is missing", f"manifest.remotes[{index}]")
        remotes[_text(path, f"manifest.remotes[{index}].name", entry.get("name"))] = entry[
            "url-base"
        ].rstrip("/")
    deps = []
    for index, raw in enumerate(_list(path, "manifest.projects", manifest.get("projects", []))):
        project = _table(path, f"manifest.projects[{index}]", raw)
        name = _check(path, f"manifest.projects[{index}].name", validate.name, project.get("name"))
        key = f"manifest.projects.{name}"
        url = project.get("url")
        if url is None:
            remote = project.get("remote", defaults.get("remote"))
            if not isinstance(remote, str) or remote not in remotes:
                raise ConfigError(path, f"no url, and no remote {_shown(remote)} defined", key)
            repo_path = _text(path, f"{key}.repo-path", project.get("repo-path", name))
            url = f"{remotes[remote]}/{repo_path}"
        revision = project.get("revision", defaults.get("revision", "master"))
        deps.append(
            Dep(
                name=name,
                rev=_commit(path, f"{key}.revision", revision, "west"),
                url=_check(path, f"{key}.url", validate.url, url),
                submodules=bool(project.get("submodules", False)),
            )
        )
    return deps


def _vcstool_deps(path: Path, repositories: dict[str, Any]) -> list[Dep]:
    """vcstool: `PATH: {type: git, url, version}`; the dep is named after PATH's last part."""
    deps = []
    for where, raw in repositories.items():
        key = f"repositories.{where}"
        entry = _table(path, key, raw)
        if entry.get("type", "git") != "git":
            raise ConfigError(
                path, f"type {_shown(entry.get('type'))}: only git repositories pin", key
            )
        name = _check(path, key, validate.name, PurePosixPath(str(where)).name)
        deps.append(
            Dep(
                name=name,
                rev=_commit(path, f"{key}.version", entry.get("version"), "vcstool"),
                url=_check(path, f"{key}.url", validate.url, entry.get("url")),
            )
        )
    names = [dep.name for dep in deps]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(path, f"two repositories end in {name!r}; dep names must differ")
    return deps


def _commit(path: Path, key: str, value: object, tool: str) -> str:
    try:
        return validate.rev(value if isinstance(value, str) else None)
    except ValueError:
        raise ConfigError(
            path,
            f"{_shown(value)} is not a commit id; {PIN_FILE} pins full 40-hex commits",
            key,
            hint=_FREEZE_HINT[tool],
        ) from None


def _check(path: Path, key: str, check: Any, value: object) -> str:
    try:
        return str(check(_text(path, key, value)))
    except ValueError as err:
        raise ConfigError(path, str(err), key) from None


def _text(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(path, f"expected a string, got {_shown(value)}", key)
    return value


def _shown(value: object) -> str:
    """A value as an error may show it: short scalars as themselves, anything else by type
    (a list may be an alias bomb whose repr would never end)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def _table(path: Path, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping, got {type(value).__name__}", key)
    return value


def _list(path: Path, key: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(path, f"expected a list, got {type(value).__name__}", key)
    return value
