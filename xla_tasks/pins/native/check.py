"""`pin --check` on native pins: do the files agree, and is each `.tar.gz` hash right?

No network and no write (contract 6.2). Files pinning one dep must agree on the commit
and the hash (hex or SRI). A `.tar.gz` hash is rebuilt from the dep's clone when the clone
holds the commit on disk; otherwise, and for a `.zip` (which only a download can tell),
the hash is not checked, and a note says so. A partial (blobless) clone is not used: git
would fetch the files it lacks to build the archive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xla_tasks.engine.disk import has_commit, is_partial
from xla_tasks.errors import ConfigError, XlaTasksError
from xla_tasks.gitobjects import git_dir_at
from xla_tasks.pins.native.agree import check_agreement
from xla_tasks.pins.native.archive_hash import archive_sha256
from xla_tasks.pins.native.digest import sri_of
from xla_tasks.pins.native.model import NativePin


@dataclass(slots=True)
class NativeCheck:
    """Problems (the check fails), hashes found right, and what could not be checked."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


def check_native_pins(
    project_dir: Path,
    sites: Mapping[str, Sequence[NativePin]],
    clone_of: Callable[[str], Path],
    *,
    hashes: bool = True,
) -> NativeCheck:
    """Each dep's files agree; with `hashes`, each `.tar.gz` hash matches its commit."""
    report = NativeCheck()
    for name in sorted(sites):
        try:
            check_agreement(sites[name], project_dir)
        except ConfigError as err:
            report.problems.append(f"{name}: {err}")
        if hashes:
            _check_hashes(project_dir, name, sites[name], clone_of(name), report)
    return report


def _check_hashes(
    project_dir: Path, name: str, sites: Sequence[NativePin], clone: Path, report: NativeCheck
) -> None:
    built: dict[tuple[str, str], str | None] = {}
    for pin in sites:
        if pin.sha256 is None or pin.commit is None:
            continue
        where = f"{pin.file}:{pin.sha256_line}" if pin.sha256_line else pin.file
        if pin.archive != "tar.gz" or not pin.archive_prefix:
            report.not_checked.append(
                f"{name}: the hash in {where} not checked: a .zip hash can only be downloaded, "
                "and pin --check uses no network"
            )
            continue
        key = (pin.commit, pin.archive_prefix)
        if key not in built:
            built[key] = _build(name, clone, pin.commit, pin.archive_prefix, where, report)
        computed = built[key]
        if computed is None:
            continue
        if computed == pin.sha256:
            report.checked.append(
                f"{name}: the hash in {where} is the .tar.gz of {pin.commit[:12]} "
                f"(built from {clone})"
            )
            continue
        shown = _form(pin.sha256, pin.sha256_form)
        right = _form(computed, pin.sha256_form)
        report.problems.append(
            f"{name}: {project_dir / pin.file}:{pin.sha256_line}: the hash {shown} is not that of "
            f"the .tar.gz of {pin.commit[:12]}, which is {right} (built from {clone}); "
            f"with {name} at {pin.commit[:12]}, `xla-tasks pin` rewrites it"
        )


def _build(
    name: str, clone: Path, commit: str, prefix: str, where: str, report: NativeCheck
) -> str | None:
    """The .tar.gz hash from the clone, or None (and a note) when it cannot be built here."""
    git_dir = git_dir_at(clone)
    why = None
    if git_dir is None:
        why = f"no clone at {clone}"
    elif is_partial(git_dir):
        why = f"{clone} is a partial clone (building the archive would fetch files)"
    elif not has_commit(str(clone), git_dir, commit):
        why = f"{clone} lacks {commit[:12]}"
    if why is None:
        try:
            return archive_sha256(clone, commit, prefix)
        except XlaTasksError as err:
            why = str(err)
    report.not_checked.append(f"{name}: the hash in {where} not checked: {why}")
    return None


def _form(digest: str, form: str | None) -> str:
    return sri_of(digest) if form == "sri" else digest
