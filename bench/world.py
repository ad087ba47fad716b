"""The benchmark's world: bare upstreams made with `git fast-import`, a leaf project pinning
them in every tool's format, the plain-git "limit" scripts, and a submodule superproject."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xla_tasks.demo.upstreams import AUTHOR, BASE_DATE, Gitlink, commit, init_bare, pin_file_text
from xla_tasks.pins.sync_deps_script import render_sync_deps_script

BEHIND = 3  # pins sit this many commits behind the head of main
NEXT_REF = "refs/bench/next"  # a commit parked upstream; `moved` makes it main's new head
MOVED_DEP = "dep00"
PROJECT = "project"
SUPER = "super"


@dataclass(frozen=True)
class Upstream:
    name: str
    url: str
    bare: Path
    pin: str  # the commit the project pins
    head: str  # main's head while the scenarios start
    next: str  # one commit past head, published for `moved`


def git(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd}: {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def _file_path(index: int) -> str:
    return f"src/part{index % 16:02d}/file{index:04d}.cc"


def _file_text(name: str, index: int, revision: int) -> bytes:
    body = "".join(
        f"int {name}_f{index}_{k}(int x) {{ return x + {revision}; }}\n" for k in range(24)
    )
    return f"// {name}: file {index}, revision {revision}\n{body}".encode()


def history_stream(name: str, commits: int, files: int) -> bytes:
    """One fast-import stream: `commits` commits on main (the first adds every file, the
    others change three), then one more on NEXT_REF for the `moved` scenario."""
    chunks: list[bytes] = []
    for number in range(commits + 1):
        when = f"{BASE_DATE + 3600 * number} +0000"
        message = f"{name}: change {number}".encode()
        ref = "refs/heads/main" if number < commits else NEXT_REF
        chunks += [
            f"commit {ref}\nmark :{number + 1}\n".encode(),
            f"author {AUTHOR} {when}\ncommitter {AUTHOR} {when}\n".encode(),
            f"data {len(message)}\n".encode() + message + b"\n",
        ]
        if number == commits:
            chunks.append(f"from :{commits}\n".encode())
        changed = range(files) if number == 0 else {(number * 7 + k * 31) % files for k in range(3)}
        for index in sorted(changed):
            data = _file_text(name, index, number)
            chunks += [f"M 100644 inline {_file_path(index)}\ndata {len(data)}\n".encode(), data]
            chunks.append(b"\n")
    return b"".join(chunks)


def build_upstream(root: Path, name: str, commits: int, files: int) -> Upstream:
    bare = root / f"{name}.git"
    url = init_bare(bare)
    git(
        "fast-import",
        "--quiet",
        "--date-format=raw",
        cwd=bare,
        stdin=history_stream(name, commits, files),
    )
    history = git("rev-list", "--first-parent", "--reverse", "main", cwd=bare).split()
    pin = history[max(0, len(history) - 1 - BEHIND)]
    return Upstream(name, url, bare, pin, history[-1], git("rev-parse", NEXT_REF, cwd=bare))


# --- the project: the same pins in each tool's format -------------------------------------


def manifests(
    deps: Sequence[Upstream], pins: Mapping[str, str], urls: Mapping[str, str], url_base: str
) -> dict[str, str]:
    """Files of the project repo, each pinning every dep at `pins[name]` from `urls[name]`."""
    return {
        "sync_deps.toml": pin_file_text(
            {d.name: (pins[d.name], urls[d.name], False) for d in deps}
        ),
        "sync_deps.py": render_sync_deps_script(
            {d.name: pins[d.name] for d in deps},
            {d.name: urls[d.name] for d in deps},
            {},
            {d.name: "main" for d in deps},
        ),
        "west.yml": _west_manifest(deps, pins, url_base),
        "deps.repos": _vcs_repos(deps, pins, urls),
        **{
            script: limit_script(deps, pins, urls, history)
            for history, script in LIMIT_SCRIPTS.items()
        },
    }


def _west_manifest(deps: Sequence[Upstream], pins: Mapping[str, str], url_base: str) -> str:
    projects = "".join(
        f"    - name: {d.name}\n      repo-path: {d.bare.name}\n      revision: {pins[d.name]}\n"
        for d in deps
    )
    return (
        "manifest:\n  remotes:\n    - name: local\n"
        f"      url-base: {url_base}\n  defaults:\n    remote: local\n"
        f"  projects:\n{projects}  self:\n    path: {PROJECT}\n"
    )


def _vcs_repos(deps: Sequence[Upstream], pins: Mapping[str, str], urls: Mapping[str, str]) -> str:
    entries = "".join(
        f"  {d.name}:\n    type: git\n    url: {urls[d.name]}\n    version: {pins[d.name]}\n"
        for d in deps
    )
    return f"repositories:\n{entries}"


LIMIT_SCRIPTS = {"full": "limit.sh", "blobless": "limit-blobless.sh", "shallow": "limit-depth1.sh"}
_LIMIT_CLONE = {
    "full": 'git clone -q --no-checkout "$2" "$1" && $CO "$3"',
    "blobless": 'git clone -q --no-checkout --filter=blob:none "$2" "$1" && $CO "$3"',
    "shallow": 'git init -q "$1" && git -C "$1" remote add origin "$2"'
    ' && $FETCH "$3" && $CO FETCH_HEAD',
}


def limit_script(
    deps: Sequence[Upstream], pins: Mapping[str, str], urls: Mapping[str, str], history: str
) -> str:
    """The limit: the cheapest correct plain-git commands per repo, every repo at once.
    On the pin: one `rev-parse`. Off it: fetch that commit, check it out. Missing: clone
    (`clone --no-checkout` + checkout; shallow: init + fetch of the commit at depth 1)."""
    deepen = " --depth 1" if history == "shallow" else ""
    target = "FETCH_HEAD" if deepen else '"$3"'
    lines = "".join(
        f"sync {d.name} {urls[d.name]} {pins[d.name]} & p{i}=$!\n" for i, d in enumerate(deps)
    )
    waits = "".join(f"wait $p{i} || rc=1\n" for i in range(len(deps)))
    return (
        "#!/bin/sh\n"
        f"# The limit ({history}): plain git, the fewest commands per repo, all in parallel.\n"
        'cd "$(dirname "$0")/.."\nrc=0\n'
        "sync() {\n"
        '  CO="git -C $1 -c advice.detachedHead=false checkout -q --detach"\n'
        f'  FETCH="git -C $1 fetch -q{deepen} origin"\n'
        '  if [ -d "$1/.git" ]; then\n'
        '    [ "$(git -C "$1" rev-parse HEAD)" = "$3" ] && return 0\n'
        f'    $FETCH "$3" && $CO {target}\n'
        "  else\n"
        f"    {_LIMIT_CLONE[history]}\n"
        "  fi\n"
        "}\n" + lines + waits + "exit $rc\n"
    )


def build_project(root: Path, files: Mapping[str, str], name: str = PROJECT) -> str:
    """A bare project repo with one commit holding the pin files; returns its URL."""
    bare = root / f"{name}.git"
    url = init_bare(bare)
    chunks = [
        b"commit refs/heads/main\n",
        f"author {AUTHOR} {BASE_DATE} +0000\ncommitter {AUTHOR} {BASE_DATE} +0000\n".encode(),
        b"data 14\npin every dep\n",
    ]
    for path, text in sorted(files.items()):
        data = text.encode()
        mode = "100755" if path.endswith((".sh", ".py")) else "100644"
        chunks += [f"M {mode} inline {path}\ndata {len(data)}\n".encode(), data, b"\n"]
    git("fast-import", "--quiet", "--date-format=raw", cwd=bare, stdin=b"".join(chunks))
    return url


# --- a superproject with submodules, some nested -------------------------------------------


@dataclass(frozen=True)
class SubmoduleWorld:
    url: str  # the superproject
    pin: str
    count: int  # submodules at every depth
    nested: int  # of them, inside another submodule
    project_url: str  # a project pinning the superproject with submodules on


def _add_submodules(bare: Path, subs: Mapping[str, Upstream]) -> str:
    """One commit adding each of `subs` as a submodule at third_party/NAME, on its head."""
    gitmodules = "".join(
        f'[submodule "{n}"]\n\tpath = third_party/{n}\n\turl = {u.url}\n' for n, u in subs.items()
    )
    files: dict[str, str | Gitlink] = {".gitmodules": gitmodules}
    files.update({f"third_party/{n}": Gitlink(u.head) for n, u in subs.items()})
    return commit(bare, files, "add submodules")


def build_submodule_world(
    root: Path, count: int, nested: int, commits: int, files: int
) -> SubmoduleWorld:
    """`count` submodules in all: `nested` of them sit inside the first `nested` direct
    ones (two levels), the rest hang off the superproject."""
    names = [f"sub{i:02d}" for i in range(count)]
    subs = {n: build_upstream(root, n, commits, files) for n in names}
    direct = names[: count - nested]
    for parent, child in zip(direct, names[count - nested :], strict=False):
        head = _add_submodules(subs[parent].bare, {child: subs[child]})
        subs[parent] = Upstream(parent, subs[parent].url, subs[parent].bare, head, head, head)
    top = build_upstream(root, SUPER, 2, 4)
    pin = _add_submodules(top.bare, {n: subs[n] for n in direct})
    files_ = {
        "sync_deps.toml": pin_file_text({SUPER: (pin, top.url, True)}),
        "sync_deps.py": render_sync_deps_script(
            {SUPER: pin}, {SUPER: top.url}, {SUPER: 1}, {SUPER: "main"}
        ),
    }
    return SubmoduleWorld(top.url, pin, count, nested, build_project(root, files_, "subproject"))
