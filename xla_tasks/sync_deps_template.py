#!/usr/bin/env python3
"""Put this project's pinned dependencies next to it, each on its pinned commit.

CI bots run this with nothing but Python 3.8+ and git, so it is standard library only and
never imports xla-tasks. Each dep lands at `<parent of this project>/<name>`, detached at
its pin: missing deps are cloned (into a temp dir, then renamed: never a half clone), and
a fetch happens only when the pinned commit is absent. Work is never discarded: a dep
with uncommitted changes to tracked files is not moved, and a detached HEAD that only it
holds is saved on a branch `xla-tasks/saved-<sha>` first.

Usage: python3 sync_deps.py [--exclude-dep RE ...] [--exclude-submodule NAME:PATH-RE ...]
                            [--depth N] [--jobs N]
Exit status: 0 every dep in place; 1 some dep failed (each listed last as `FAILED name:
reason`); 2 bad arguments; 130 interrupted.
"""

# --- BEGIN PINS (generated) ---
PINNED_VERSIONS = {}
ORIGINS = {}
SUBMODULES = {}
BRANCHES = {}
# --- END PINS ---

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Dict, List, NamedTuple, NoReturn, Optional, Pattern, Sequence, Tuple

_SHA_RE = re.compile(r"[0-9a-f]{40}\Z")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
_TRANSPORT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
# Goes into a refspec, so no `:`, `*`, spaces or leading `-`.
_BRANCH_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]*\Z")
_PASSWORD_RE = re.compile(r"(://[^/@:\s']*):[^/@\s']*@")
# Given on every call: `ext::` URLs run arbitrary commands. git refuses them by default;
# this keeps it so whatever the user's config says.
_GIT = ["git", "-c", "protocol.ext.allow=never"]
# Inherited from a hook or an alias, these would point git at some other repository.
_FOREIGN_GIT_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
)
# Refs this script writes (the same ones `xla-tasks sync` writes). What they reach came
# from upstream, so a detached HEAD they reach is not the user's own work.
_OWN_REFS = "refs/remotes/xla-tasks"
_PIN_REF = _OWN_REFS + "/pinned"
_UPSTREAM_REFS = _OWN_REFS + "/upstream"
SAVED_BRANCH_PREFIX = "xla-tasks/saved-"


class SyncError(Exception):
    """An expected failure of one dep: its text is the one line shown, no traceback."""


class GitResult(NamedTuple):
    code: int
    out: str
    err: str


class Dep(NamedTuple):
    name: str
    sha: str
    url: str
    branch: Optional[str]
    submodules: bool
    path: str


class Options(NamedTuple):
    depth: Optional[int]
    exclude_submodules: List[Pattern]
    umask: int


def _git_env() -> Dict[str, str]:
    """English messages (we pick git's `fatal:` line) and never a credential prompt."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_GIT_ENV}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    env["LANGUAGE"] = "C"
    return env


def run_git(args: Sequence[str], cwd: str) -> GitResult:
    """One git call: argv list, no shell, no stdin, text output."""
    proc = subprocess.run(
        _GIT + list(args),
        cwd=cwd,
        env=_git_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
    )
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def git(args: Sequence[str], cwd: str, what: str) -> str:
    """Run git; on failure raise SyncError saying what we tried and git's reason."""
    res = run_git(args, cwd)
    if res.code != 0:
        raise SyncError(f"{what} failed: {first_error(res.err)}")
    return res.out


def first_error(stderr: str) -> str:
    """git's first `fatal:`/`error:` line: later ones only repeat it less precisely."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return redact(line)
    return redact(lines[-1]) if lines else "git exited with an error"


def redact(url: str) -> str:
    """A URL fit for a log: no password."""
    return _PASSWORD_RE.sub(r"\1:***@", url)


def check_dep(dep: Dep) -> None:
    """Refuse data that could escape the workspace or smuggle options into git."""
    if not _NAME_RE.match(dep.name) or ".." in dep.name:
        raise SyncError(f"invalid dep name {dep.name!r}")
    if not _SHA_RE.match(dep.sha):
        raise SyncError(f"invalid pinned commit {dep.sha!r}: expected 40 hex digits")
    if not dep.url or dep.url.startswith("-") or _TRANSPORT_RE.match(dep.url):
        raise SyncError(f"invalid or missing URL {redact(dep.url)!r} in ORIGINS")
    if dep.branch is not None and (not _BRANCH_RE.match(dep.branch) or ".." in dep.branch):
        raise SyncError(f"invalid branch {dep.branch!r} in BRANCHES")


def has_commit(cwd: str, sha: str) -> bool:
    # The sha is validated 40-hex, so it cannot be read as an option.
    return run_git(["cat-file", "-e", sha + "^{commit}"], cwd).code == 0


def is_shallow(cwd: str) -> bool:
    return run_git(["rev-parse", "--is-shallow-repository"], cwd).out.strip() == "true"


def head_commit(cwd: str) -> Optional[str]:
    """HEAD's commit, or None in a repo without commits."""
    res = run_git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd)
    return res.out.strip() if res.code == 0 else None


def require_toplevel(dep: Dep) -> None:
    """The dep's path must be the top of a work tree, not a file or a folder inside another repo."""
    if os.path.isdir(dep.path):
        res = run_git(["rev-parse", "--show-cdup"], dep.path)
        if res.code == 0 and not res.out.strip():
            return
        reason = f" ({first_error(res.err)})" if res.code else ""
    else:
        reason = " (not a directory)"
    raise SyncError(
        f"{dep.path} exists but is not a git repository top level{reason}; move it away"
    )


def refuse_if_dirty(dep: Dep) -> None:
    """Never move a dep whose tracked files hold uncommitted changes.

    Submodules are left out: their contents are not lost by moving the dep, and counting a
    submodule left behind by an interrupted run would block every later run.
    """
    out = git(
        ["status", "--porcelain", "-z", "--untracked-files=no", "--ignore-submodules=all"],
        dep.path,
        "git status",
    )
    entries = out.split("\0")
    files = []  # type: List[str]
    skip = False
    for entry in entries:
        if skip or not entry:
            skip = False
            continue
        files.append(entry[3:])
        skip = entry[0] in "RC"  # a rename or copy is followed by its source path
    if files:
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if files[5:] else "")
        raise SyncError(
            f"{dep.path} has uncommitted changes to tracked files ({shown}); not moved: "
            "commit or stash them and run again"
        )


def save_orphan_head(dep: Dep, head: Optional[str]) -> List[str]:
    """Keep commits that only a detached HEAD holds: put a branch on them before moving."""
    if head is None or run_git(["symbolic-ref", "-q", "HEAD"], dep.path).code == 0:
        return []
    refs = ["refs/heads", "refs/tags", "refs/remotes"]
    args = ["for-each-ref", "--count=1", "--format=%(refname)", "--contains", head]
    if git(args + refs, dep.path, "looking for refs holding HEAD").strip():
        return []
    branch = SAVED_BRANCH_PREFIX + head[:12]
    git(["branch", branch, head], dep.path, "saving detached HEAD on branch " + branch)
    return [f"saved detached HEAD {head[:12]} as branch {branch}"]


def fetch_source(dep: Dep) -> Tuple[str, str]:
    """Where to fetch from and where branch refs go for the fallback.

    A remote already pointing at the dep's URL is used by name (so `origin/*` stays a
    normal mirror); otherwise, say when origin is the user's fork, the URL is fetched
    directly and branches land under refs/remotes/xla-tasks/upstream, away from the user's refs.
    """
    res = run_git(["config", "-z", "--get-regexp", r"^remote\..*\.url$"], dep.path)
    for item in res.out.split("\0"):
        key, _, value = item.partition("\n")
        if value.rstrip("/") == dep.url.rstrip("/"):
            remote = key[len("remote.") : -len(".url")]
            return remote, "refs/remotes/" + remote
    return dep.url, _UPSTREAM_REFS


def fetch_commit(dep: Dep, cwd: str, source: Tuple[str, str], depth: Optional[int]) -> None:
    """Fetch the pinned commit, by id first, by branches when the server refuses ids.

    Servers speaking protocol v0 refuse ids that are not a ref tip ("Server does not allow
    request for unadvertised object"), so fall back to the dep's branch, every branch, tags.
    """
    remote = source[0]
    depth_args = ["--depth", str(depth)] if depth else []
    by_id = run_git(["fetch", "-q", *depth_args, "--", remote, dep.sha], cwd)
    if by_id.code == 0 and has_commit(cwd, dep.sha):
        return
    reached = fetch_branches(dep, cwd, source, depth_args)
    if reached and has_commit(cwd, dep.sha):
        return
    reason = first_error(by_id.err) if by_id.code else "no such commit"
    if reached:
        raise SyncError(
            f"{dep.sha[:12]} is on no branch of {redact(dep.url)} (fetch by id: {reason})"
        )
    raise SyncError(f"fetch of {dep.sha[:12]} from {redact(dep.url)} failed: {reason}")


def fetch_branches(dep: Dep, cwd: str, source: Tuple[str, str], depth_args: List[str]) -> bool:
    """The fallback fetch; True if the server answered at all.

    Tries the dep's branch, then every branch, then every tag (stored under
    refs/remotes/xla-tasks/tags, never over local tags); with --depth, if the pin lies
    deeper than that, fetches full history rather than fail.
    """
    remote, dst = source
    all_heads = f"+refs/heads/*:{dst}/*"
    refspecs = [all_heads, "+refs/tags/*:" + _OWN_REFS + "/tags/*"]
    if dep.branch:
        refspecs.insert(0, f"+refs/heads/{dep.branch}:{dst}/{dep.branch}")
    reached = False
    for refspec in refspecs:
        if run_git(["fetch", "-q", *depth_args, "--", remote, refspec], cwd).code == 0:
            reached = True
            if has_commit(cwd, dep.sha):
                return True
    if reached and depth_args and is_shallow(cwd):
        run_git(["fetch", "-q", "--unshallow", "--", remote, all_heads], cwd)
    return reached


def checkout(dep: Dep, cwd: str) -> None:
    """Detach at the pin and record it in refs/remotes/xla-tasks/pinned (also keeps it from gc)."""
    git(["checkout", "-q", "--detach", dep.sha, "--"], cwd, "checkout of " + dep.sha[:12])
    git(["update-ref", _PIN_REF, dep.sha], cwd, "recording the pin")


def clone_fresh(dep: Dep, opts: Options) -> None:
    """Clone beside the target, then rename into place: an interrupted run leaves no half clone."""
    tmp = tempfile.mkdtemp(prefix="." + dep.name + ".tmp-", dir=os.path.dirname(dep.path))
    try:
        os.chmod(tmp, 0o777 & ~opts.umask)  # mkdtemp makes it private; a clone would not be
        git(["init", "-q"], tmp, "git init")
        git(["remote", "add", "--", "origin", dep.url], tmp, "adding remote origin")
        fetch_commit(dep, tmp, ("origin", "refs/remotes/origin"), opts.depth)
        checkout(dep, tmp)
        if os.path.isdir(dep.path):
            os.rmdir(dep.path)  # an empty directory made for us; anything else fails here
        os.rename(tmp, dep.path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def update_existing(dep: Dep, opts: Options) -> str:
    """Move an existing clone to the pin, fetching only when the commit is absent."""
    require_toplevel(dep)
    head = head_commit(dep.path)
    if head == dep.sha:
        return "already there"
    refuse_if_dirty(dep)
    how = "found locally"
    if not has_commit(dep.path, dep.sha):
        # --depth on a fetch into a full clone would make it shallow: only keep shallow ones so.
        depth = opts.depth if is_shallow(dep.path) else None
        fetch_commit(dep, dep.path, fetch_source(dep), depth)
        how = "fetched"
    notes = save_orphan_head(dep, head)
    checkout(dep, dep.path)
    return "; ".join([how, *notes]) if notes else how


def submodule_paths(cwd: str) -> List[str]:
    """Paths of the submodules declared in .gitmodules (none if there is no such file)."""
    if not os.path.isfile(os.path.join(cwd, ".gitmodules")):
        return []
    args = ["config", "-z", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.path$"]
    res = run_git(args, cwd)
    if res.code not in (0, 1):  # 1: no submodule entries
        raise SyncError("reading .gitmodules failed: " + first_error(res.err))
    return [item.partition("\n")[2] for item in res.out.split("\0") if "\n" in item]


def update_submodules(dep: Dep, opts: Options) -> str:
    """Shallow submodules minus `--exclude-submodule NAME:PATH` matches."""
    paths = submodule_paths(dep.path)
    keep = [p for p in paths if not matches_any(dep.name + ":" + p, opts.exclude_submodules)]
    stale = stale_submodules(dep.path, keep)
    if stale:
        git(["submodule", "sync", "-q", "--", *stale], dep.path, "git submodule sync")
    for path in stale:
        update_submodule(dep, path)
    note = f"submodules: {len(stale)} updated, {len(keep) - len(stale)} already there"
    return note + (f", {len(paths) - len(keep)} excluded" if len(keep) < len(paths) else "")


def stale_submodules(cwd: str, paths: List[str]) -> List[str]:
    """The submodules not checked out at the commit the dep records (no network, no update)."""
    if not paths:
        return []
    res = run_git(["ls-files", "--stage", "-z", "--", *paths], cwd)
    recorded = {}
    for entry in res.out.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] == "160000":
            recorded[path] = fields[1]
    stale = []
    for path in paths:
        sub = os.path.join(cwd, path)
        head = None
        if os.path.exists(os.path.join(sub, ".git")):
            found = run_git(["rev-parse", "-q", "--verify", "HEAD"], sub)
            head = found.out.strip() if found.code == 0 else None
        if head is None or head != recorded.get(path):
            stale.append(path)
    return stale


def update_submodule(dep: Dep, path: str) -> None:
    """Shallow first; full history when the gitlink is no tip a shallow fetch can reach."""
    shallow = ["submodule", "update", "--init", "--depth", "1", "--", path]
    if run_git(shallow, dep.path).code == 0:
        return
    # The failed try may have left a depth-1 clone, which a plain update only tops up with
    # the tip (servers speaking protocol v0 refuse the gitlink itself): deepen it first.
    sub = os.path.join(dep.path, path)
    if os.path.exists(os.path.join(sub, ".git")) and is_shallow(sub):
        run_git(["fetch", "-q", "--unshallow"], sub)
    git(["submodule", "update", "--init", "--", path], dep.path, "submodule update of " + path)


def sync_dep(dep: Dep, opts: Options) -> str:
    """Put one dep on its pin; returns its status line, raises SyncError on failure."""
    check_dep(dep)
    if os.path.lexists(dep.path) and not is_empty_dir(dep.path):
        how = update_existing(dep, opts)
    else:
        clone_fresh(dep, opts)
        how = "cloned"
    line = f"{dep.name}: checked out {dep.sha[:12]} ({how})"
    if dep.submodules:
        line += "; " + update_submodules(dep, opts)
    return line


def is_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


def sync_one(dep: Dep, opts: Options) -> Tuple[bool, str]:
    """Run one dep in a worker; failures become a message so the other deps still sync."""
    try:
        return True, sync_dep(dep, opts)
    except SyncError as err:
        return False, str(err)
    except OSError as err:
        return False, f"{err.strerror or err}: {err.filename or dep.path}"
    except Exception as err:  # a bug: still one line, and the other deps finish
        return False, f"unexpected {type(err).__name__}: {err}"


def matches_any(text: str, patterns: Sequence[Pattern]) -> bool:
    return any(p.search(text) for p in patterns)


def run_all(deps: Sequence[Dep], opts: Options, jobs: int) -> List[Tuple[str, str]]:
    """Sync deps in parallel, print one line per dep as it finishes, return the failures."""
    failures = []  # type: List[Tuple[str, str]]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(sync_one, dep, opts): dep for dep in deps}
        try:
            for future in as_completed(futures):
                ok, text = future.result()
                if ok:
                    print(text, flush=True)
                else:
                    failures.append((futures[future].name, text))
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            raise
    return sorted(failures)


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the whole usage block by default)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = OneLineParser(description="Put each pinned dependency next to this project.")
    parser.add_argument(
        "--exclude-dep",
        nargs="+",
        action="extend",
        default=[],
        metavar="RE",
        help="skip deps whose name matches (re.search); repeatable",
    )
    parser.add_argument(
        "--exclude-submodule",
        nargs="+",
        action="extend",
        default=[],
        metavar="RE",
        help="skip submodules whose NAME:PATH matches; repeatable",
    )
    parser.add_argument(
        "--depth", type=positive_int, metavar="N", help="shallow-clone missing deps to N commits"
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        default=min(8, os.cpu_count() or 1),
        help="deps processed at once",
    )
    args = parser.parse_args(argv)
    for flag in ("exclude_dep", "exclude_submodule"):
        setattr(args, flag, [compile_regex(parser, flag, text) for text in getattr(args, flag)])
    return args


def compile_regex(parser: argparse.ArgumentParser, flag: str, text: str) -> Pattern:
    """Compile a user regex up front so a typo fails before anything is touched."""
    try:
        return re.compile(text)
    except re.error as err:
        option = "--" + flag.replace("_", "-")
        parser.error(f"{option}: invalid regex {text!r}: {err}")
        raise  # unreachable: parser.error exits


def selected_deps(workspace: str, exclude: Sequence[Pattern]) -> Tuple[List[Dep], List[str]]:
    """The deps to sync, and the names that --exclude-dep left out."""
    deps, skipped = [], []  # type: List[Dep], List[str]
    for name in sorted(PINNED_VERSIONS):
        if matches_any(name, exclude):
            skipped.append(name)
            continue
        dep = Dep(
            name=name,
            sha=PINNED_VERSIONS[name],
            url=ORIGINS.get(name, ""),
            branch=BRANCHES.get(name),
            submodules=bool(SUBMODULES.get(name)),
            path=os.path.join(workspace, name),
        )
        deps.append(dep)
    return deps, skipped


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if shutil.which("git") is None:
        print("sync_deps.py: git not found on PATH", file=sys.stderr)
        return 1
    umask = os.umask(0o022)  # read it once, before any thread starts
    os.umask(umask)
    opts = Options(depth=args.depth, exclude_submodules=args.exclude_submodule, umask=umask)
    workspace = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    deps, skipped = selected_deps(workspace, args.exclude_dep)
    for name in skipped:
        print(f"{name}: skipped (--exclude-dep)", flush=True)
    try:
        failures = run_all(deps, opts, args.jobs)
    except KeyboardInterrupt:
        print("sync_deps.py: interrupted", file=sys.stderr)
        return 130
    for name, reason in failures:
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
