"""Which repository a URL names, in one canonical spelling, so pins match registry repos.

Scheme, user, a trailing `/`, `.git` and the host's case do not matter; an archive URL
(`https://github.com/ORG/REPO/archive/<sha>.tar.gz`, also behind a mirror such as
`https://storage.googleapis.com/mirror.tensorflow.org/github.com/...`) names the repository
it is an archive of. Everything is string work: no lookup, no network.
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)(.*)$")
_SCP = re.compile(r"^(?:[^@/:]+@)?([^/:]+):(?!//)(.+)$")  # git@github.com:org/repo.git
_DEFAULT_PORTS = {"22", "80", "443", "9418"}
_ARCHIVE_KINDS = (("tar.gz", ".tar.gz"), ("zip", ".zip"))


def normalize_repo_url(url: str) -> str:
    """`https://host/path.git` for any spelling of a network repository URL or archive URL.

    Local paths and relative URLs (`../x.git`, `/srv/x`) come back without a trailing `/`
    or `.git`, so they still compare equal to themselves spelled either way.
    """
    text = url.strip()
    found = _SCHEME.match(text)
    if found:
        scheme, authority, path = found.groups()
        if scheme.lower() == "file":
            return _strip_repo_suffix(path or "/")
        host = authority.rsplit("@", 1)[-1].lower()
        name, _, port = host.partition(":")
        host = name if port in _DEFAULT_PORTS or not port else host
        return _canonical(host, path)
    scp = _SCP.match(text)
    if scp and "/" not in scp.group(1):
        return _canonical(scp.group(1).lower(), "/" + scp.group(2).lstrip("/"))
    return _strip_repo_suffix(text)


def archive_repo(url: str) -> tuple[str, str, str] | None:
    """(canonical repo URL, repo name, archive kind or "") when `url` is a repo's archive."""
    found = _SCHEME.match(url.strip())
    if not found or found.group(1).lower() not in ("http", "https"):
        return None
    archive = _split_archive(found.group(2).rsplit("@", 1)[-1] + found.group(3))
    if not archive:
        return None
    host, org, repo, rest = archive
    kind = next((k for k, suffix in _ARCHIVE_KINDS if rest.endswith(suffix)), "")
    return f"https://{host}/{org}/{_strip_git(repo)}.git", _strip_git(repo), kind


def _split_archive(text: str) -> tuple[str, str, str, str] | None:
    """HOST/ORG/REPO/archive/REST (GitLab: .../-/archive/...) -> (host, org, repo, rest).

    The host is the segment three before `archive`; whatever comes before it is a mirror's
    prefix. Split, not a regex: a megabyte-long "URL" costs one pass.
    """
    parts = text.split("?", 1)[0].split("#", 1)[0].split("/")
    github = _github_download(parts)
    if github:
        return github
    if "archive" not in parts:
        return None
    at = parts.index("archive")
    end = at - 1 if at >= 1 and parts[at - 1] == "-" else at
    if end < 3 or "." not in parts[end - 3] or not all(parts[end - 3 : end]):
        return None
    host, org, repo = parts[end - 3 : end]
    return host.lower(), org, repo, "/".join(parts[at + 1 :])


def repo_url(url: str) -> str | None:
    """The canonical repository a remote or an archive URL names; None for other URLs."""
    archive = archive_repo(url)
    if archive:
        return archive[0]
    text = url.strip()
    found = _SCHEME.match(text)
    if found and found.group(1).lower() in ("http", "https") and "/archive/" not in text:
        if re.search(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz|zip|whl|jar)$", text.split("?")[0]):
            return None  # a download, not a repository
        return normalize_repo_url(text)
    if found or _SCP.match(text):
        return normalize_repo_url(text)
    return None


def repo_name(url: str) -> str:
    """The last path segment without `.git`: `llvm-project` for any llvm-project URL."""
    return _strip_git(normalize_repo_url(url).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])


def _github_download(parts: list[str]) -> tuple[str, str, str, str] | None:
    """GitHub's other archive URLs: `api.github.com/repos/O/R/tarball/REF` and codeload's.

    Their bytes (top folder `O-R-<short sha>/`) are not those of `/archive/`, so the rest
    returned never names a kind we can reproduce.
    """
    host = parts[0].lower()
    api = host == "api.github.com" and len(parts) >= 6 and parts[1] == "repos"
    if api and parts[4] in ("tarball", "zipball") and all(parts[2:4]):
        return "github.com", parts[2], parts[3], parts[4]
    if host == "codeload.github.com" and len(parts) >= 5 and all(parts[1:3]):
        return "github.com", parts[1], parts[2], "codeload"
    return None


def _canonical(host: str, path: str) -> str:
    archive = _split_archive(host + path)
    if archive:  # https://github.com/org/repo/archive/x.tar.gz names the repo
        return f"https://{archive[0]}/{archive[1]}/{_strip_git(archive[2])}.git"
    return f"https://{host}{_strip_repo_suffix(path)}.git"


def _strip_repo_suffix(path: str) -> str:
    return _strip_git(path.rstrip("/"))


def _strip_git(text: str) -> str:
    return text[: -len(".git")] if text.endswith(".git") else text
