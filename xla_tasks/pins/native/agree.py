"""Several files pinning one repository are one pin: group them and check they agree.

JAX pins XLA in `revision.bzl` (hex hash) and `MODULE.bazel` (SRI); StableHLO pins LLVM in
`llvm_version.txt` (no URL) and `third_party/llvm/workspace.bzl`. A pin known only by its
`repo_hint` joins the group whose repository has that name. `.torch_pin` overrides
`.torch_commit` by design and is never a disagreement.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from xla_tasks.errors import ConfigError
from xla_tasks.pins.native.digest import sri_of
from xla_tasks.pins.native.model import NativePin
from xla_tasks.pins.native.urls import repo_name


def group_pins(pins: Iterable[NativePin]) -> dict[str, list[NativePin]]:
    """Pins by repository: the normalised URL, or the hint when no pin of it has a URL."""
    pins = list(pins)
    groups: dict[str, list[NativePin]] = {}
    for pin in pins:
        if pin.url:
            groups.setdefault(pin.url, []).append(pin)
    by_name: dict[str, list[str]] = {}
    for url in groups:
        by_name.setdefault(repo_name(url), []).append(url)
    for pin in pins:
        if pin.url:
            continue
        hint = pin.repo_hint or pin.file
        urls = by_name.get(hint, [])
        groups.setdefault(urls[0] if len(urls) == 1 else hint, []).append(pin)
    return groups


def check_agreement(pins: Iterable[NativePin], project_dir: Path | None = None) -> None:
    """Raise a ConfigError naming both files, lines and values where two pins disagree."""
    for group in group_pins(pins).values():
        _check_group([pin for pin in group if pin.format != "torch_pin"], project_dir)


def _check_group(group: list[NativePin], project_dir: Path | None) -> None:
    if not group:
        return
    first = group[0]
    for other in group[1:]:
        if other.commit != first.commit:
            raise _disagree(
                first, other, first.commit or "", other.commit or "", "commit", project_dir
            )
    hashed = [pin for pin in group if pin.sha256 is not None]
    for kind in {pin.archive for pin in hashed}:
        same = [pin for pin in hashed if pin.archive == kind]
        for other in same[1:]:
            if other.sha256 != same[0].sha256:
                raise _disagree(
                    same[0], other, _shown_hash(same[0]), _shown_hash(other), "hash", project_dir
                )


def _shown_hash(pin: NativePin) -> str:
    assert pin.sha256 is not None
    if pin.sha256_form == "sri":
        return f"{sri_of(pin.sha256)} (hex {pin.sha256})"
    return pin.sha256


def _disagree(
    first: NativePin,
    other: NativePin,
    value: str,
    other_value: str,
    what: str,
    project_dir: Path | None,
) -> ConfigError:
    """`FILE:LINE: pins REPO at A, but OTHER:LINE pins it at B` (hash: `with hash`)."""
    line = first.sha256_line if what == "hash" else first.line
    other_line = other.sha256_line if what == "hash" else other.line
    path = project_dir / first.file if project_dir else Path(first.file)
    where = f"{other.file}:{other_line}" if other_line else other.file
    repo = first.url or first.repo_hint or other.url or other.repo_hint
    how = "at" if what == "commit" else "with hash"
    return ConfigError(
        path,
        f"pins {repo} {how} {value}, but {where} pins it {how} {other_value}",
        line=line or None,
        hint="make them agree; `xla-tasks pin` writes both",
    )
