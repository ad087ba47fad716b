"""Format `gitlink`: a submodule pinned by the commit its superproject's index records.

`.gitmodules` is read as text (git-config syntax: sections, `key = value`, quotes,
comments), the gitlinks from the index (`gitindex`), so a noop sync starts no git. Relative
URLs (`../llvm-project.git`) are kept as given: they are relative to the project's own
remote, which the caller knows. Only read here: `pin` stages gitlinks with git itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.engine.disk import git_dir_of
from xla_tasks.errors import ConfigError
from xla_tasks.gitrepo import run_git
from xla_tasks.pins.native.gitindex import memo_gitlinks
from xla_tasks.pins.native.model import NativePin
from xla_tasks.pins.native.urls import normalize_repo_url

GITMODULES = ".gitmodules"
_SECTION = re.compile(r'\s*\[\s*submodule\s+"((?:[^"\\\n]|\\.)*)"\s*\]\s*(?:[#;].*)?$')
_OTHER_SECTION = re.compile(r"\s*\[")
_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*?))?\s*$")


@dataclass(frozen=True, slots=True)
class Submodule:
    name: str
    path: str
    url: str
    line: int  # of its `path =` line in .gitmodules


def parse_gitmodules(text: str) -> list[Submodule]:
    """Submodules with a safe path and a URL, in file order; the last value of a key wins."""
    found: dict[str, dict[str, tuple[str, int]]] = {}
    current: dict[str, tuple[str, int]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        section = _SECTION.match(line)
        if section:
            current = found.setdefault(_unescape(section.group(1)), {})
            continue
        if _OTHER_SECTION.match(line):
            current = None
            continue
        pair = _KEY.match(line)
        if current is not None and pair and pair.group(2) is not None:
            current[pair.group(1).lower()] = (_config_value(pair.group(2)), number)
    out = []
    for name, keys in found.items():
        path, number = keys.get("path", ("", 0))
        url = keys.get("url", ("", 0))[0]
        if path and url and _safe_path(path):
            out.append(Submodule(name, path.rstrip("/"), url, number))
    return out


GitlinksOf = Callable[[list[str]], Mapping[str, str]]


def read(gitmodules_text: str, gitlinks_of: GitlinksOf) -> list[NativePin]:
    """One pin per submodule that `.gitmodules` declares and that has a gitlink where
    `gitlinks_of(paths)` reads them: the index (`index_gitlinks`), or a commit's tree."""
    submodules = parse_gitmodules(gitmodules_text)
    if not submodules:
        return []
    links = gitlinks_of([s.path for s in submodules])
    pins = []
    for sub in submodules:
        commit = links.get(sub.path)
        if commit is None:
            continue
        relative = sub.url.startswith(("./", "../"))
        pins.append(
            NativePin(
                file=sub.path,
                line=0,
                format="gitlink",
                url=sub.url if relative else normalize_repo_url(sub.url),
                repo_hint=None,
                commit=commit,
            )
        )
    return pins


def index_gitlinks(project_dir: Path, paths: list[str]) -> Mapping[str, str]:
    """The gitlinks the index holds, read in Python (no process; remembered until the index
    changes), else by git."""
    git_dir = git_dir_of(str(project_dir))
    if git_dir is None:
        return {}  # a copy of the files, not a checkout: no index, no gitlinks
    read = memo_gitlinks(git_dir)
    return read if read is not None else gitlinks_from_git(project_dir, paths)


def gitlinks_from_git(project_dir: Path, paths: list[str]) -> Mapping[str, str]:
    """What `git ls-files --stage` says, for an index the pure reader declined."""
    code, out, err = run_git(
        project_dir,
        ["ls-files", "--stage", "-z", "--", *paths],
        repo=project_dir.name,
        action="read the submodule commits",
        check=False,
    )
    if code != 0:
        reason = err.strip().splitlines() or ["no message"]
        raise ConfigError(
            project_dir / ".git" / "index",
            f"cannot read the submodule commits: {reason[0]}",
            hint="repair the index (for example `git reset`), then run again",
        )
    links = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] == "160000" and fields[2] == "0":
            links[path] = fields[1]
    return links


def _safe_path(path: str) -> bool:
    parts = path.split("/")
    return not path.startswith(("/", "-")) and ".." not in parts and "\0" not in path


def _config_value(raw: str) -> str:
    """A git-config value: quotes removed, escapes read, a comment outside quotes cut."""
    out = []
    quoted = False
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(raw[index + 1], raw[index + 1]))
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in "#;" and not quoted:
            break
        else:
            out.append(char)
        index += 1
    return "".join(out).strip() if not quoted else "".join(out)


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)
