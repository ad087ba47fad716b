"""A project's deps read from the files it keeps its pins in: no file of ours needed.

The native pin files (`pins.native`: Bazel files, `.torch_commit`, one-line files, submodule
gitlinks) name repositories by URL. A project's deps are the pinned repos the registry
lists, matched by URL (or by name, for the files that name no URL: `llvm_version.txt`,
`.torch_commit`); the rest is left alone, since XLA alone pins some hundred archives. Several
files pinning one repo are one pin and must agree. A dep's branch and submodules come from
its registry entry, its URL too: the registry's spelling is the one git is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from xla_tasks.errors import ConfigError
from xla_tasks.pins.model import NATIVE, Dep, Pins
from xla_tasks.pins.native.agree import check_agreement
from xla_tasks.pins.native.find import PinTree, read_native_pins
from xla_tasks.pins.native.model import BadPin, NativePin
from xla_tasks.pins.native.urls import normalize_repo_url, repo_name


class KnownRepo(Protocol):
    """What a registry entry tells about a repo (workspace.registry.RepoSpec is one)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def push_url(self) -> str | None: ...
    @property
    def branch(self) -> str: ...
    @property
    def submodules(self) -> bool: ...
    @property
    def pin_files(self) -> tuple[str, ...]: ...


class RepoMatcher:
    """Which registered repo a pin names: by URL (any spelling), else by the repo's name
    (a registry name first, then the last segment of a registered URL, whatever the
    registry's order)."""

    def __init__(self, repos: Mapping[str, KnownRepo]) -> None:
        self.by_url: dict[str, str] = {}
        self.by_name: dict[str, str] = {name: name for name in repos}
        for name, repo in repos.items():
            for url in (repo.url, repo.push_url):
                if url:
                    self.by_url.setdefault(normalize_repo_url(url), name)
            self.by_name.setdefault(repo_name(repo.url), name)

    def name_of(self, url: str | None, hint: str | None) -> str | None:
        if url:
            return self.by_url.get(normalize_repo_url(url))
        return self.by_name.get(hint) if hint else None


def read_native_deps(
    project_dir: Path,
    repos: Mapping[str, KnownRepo],
    *,
    project: str | None = None,
    agree: bool = True,
    tree: PinTree | None = None,
) -> Pins | None:
    """The project's native pins of registered repos (None when its files pin nothing).

    `project` is the project's own registry name: never its own dep, and its entry's
    `pin_files` are read too; `tree` where the files are read (default: on disk). A
    bad value in a pin of a registered repo, or two files that disagree, is a ConfigError
    naming the file and line; a bad pin of a repo the registry does not list is left alone
    with the rest. `agree=False` lets files that disagree through (`pin` makes them agree;
    `pin --check` lists every disagreement).
    """
    matcher = RepoMatcher(repos)
    entry = repos.get(project) if project else None
    extra_files = entry.pin_files if entry is not None else ()
    kept: dict[str, list[NativePin]] = {}
    left: dict[str, str | None] = {}
    for found in read_native_pins(project_dir, extra_files, tree):
        name = matcher.name_of(found.url, found.repo_hint)
        if name is None or name == project:
            if name is None:
                label = _label(found)
                left[label] = left.get(label) or _fetch_url(found.url)
            continue
        if isinstance(found, BadPin):
            raise found.error(project_dir)
        kept.setdefault(name, []).append(found)
    if not kept and not left:
        return None
    if agree:
        check_agreement([pin for pins in kept.values() for pin in pins], project_dir)
    deps = {name: _dep(repos[name], sites, project_dir) for name, sites in kept.items()}
    return Pins(
        deps=deps,
        source=NATIVE,
        sites={name: tuple(sites) for name, sites in kept.items()},
        left_alone=tuple(sorted(left)),
        left_alone_urls={label: url for label, url in sorted(left.items()) if url},
    )


def _dep(repo: KnownRepo, sites: list[NativePin], project_dir: Path) -> Dep:
    """One dep from its places: `.torch_pin` wins over `.torch_commit` (a commit or a ref)."""
    override = next((pin for pin in sites if pin.format == "torch_pin"), None)
    pinned = [pin for pin in sites if pin.format != "torch_pin" and pin.commit]
    commit = override.commit if override and override.commit else None
    if commit is None and pinned:
        commit = pinned[0].commit
    if commit is None:
        assert override is not None
        raise ConfigError(
            project_dir / override.file,
            f"pins {repo.name} to {override.ref!r}, but no file pins a commit to start from",
            hint="add .torch_commit beside it",
        )
    ref = override.ref if override and not override.commit else None
    over = ", ".join(dict.fromkeys(pin.file for pin in sites if pin is not override))
    return Dep(
        name=repo.name,
        rev=commit,
        url=repo.url,
        branch=repo.branch,
        submodules=repo.submodules,
        pinned_in=_pinned_in(sites, override, ref, over),
        ref=ref,
        override=f"{override.file}, over {over}" if override and over else None,
    )


def _pinned_in(
    sites: list[NativePin], override: NativePin | None, ref: str | None, over: str
) -> tuple[str, ...]:
    """How `status` names the files pinning the dep; when one wins over the others, only
    it: `.torch_pin (refs/pull/5/head, over .torch_commit)`."""
    if override is None:
        shown = (
            f"{pin.file} (submodule)" if pin.format == "gitlink" else pin.file for pin in sites
        )
        return tuple(dict.fromkeys(shown))
    details = [part for part in (ref, f"over {over}" if over else None) if part]
    return (f"{override.file} ({', '.join(details)})" if details else override.file,)


def _fetch_url(url: str | None) -> str | None:
    """A pin's repository as a registry `url` (network URLs only: a relative submodule URL
    is relative to a remote the registry does not know)."""
    return url if url and url.startswith(("https://", "http://", "ssh://", "git://")) else None


def _label(found: NativePin | BadPin) -> str:
    """How a repo left alone is named: its URL's last segment, else the file's hint."""
    if found.url:
        return repo_name(found.url)
    return found.repo_hint or found.file
