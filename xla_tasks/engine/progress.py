"""What a line of git's `--progress` output says (stage, counts, bytes, rate), and the short
text a heartbeat gives for it. The live display and both fronts' heartbeats read git's
progress through this one parser.
"""

import re
from typing import NamedTuple, Optional

# One git progress line: "Receiving objects:  45% (450/1000), 1.20 MiB | 2.00 MiB/s",
# "remote: Counting objects: 354, done.", "Resolving deltas: 100% (10/10), done."
_AMOUNT = r"\d+(?:\.\d+)? (?:[KMGT]iB|bytes?)"
_GIT_PROGRESS_RE = re.compile(
    r"^(?P<remote>remote: )?(?P<stage>[A-Z][A-Za-z ]*?):\s+"
    r"(?:(?P<percent>\d{1,3})% \((?P<count>\d+)/(?P<total>\d+)\)|(?P<plain>\d+))"
    rf"(?:, (?P<size>{_AMOUNT})(?: \| (?P<rate>{_AMOUNT}/s))?)?"
    r"(?P<done>, done\.?)?\s*$"
)


class GitProgress(NamedTuple):
    """What one line of git's `--progress` output says."""

    stage: str  # "Receiving objects", "remote: Counting objects", "Updating files", ...
    handled: int  # objects, deltas or files handled so far
    total: Optional[int]  # None when git does not know (e.g. "Enumerating objects: 354")
    percent: Optional[int]
    size: Optional[str]  # bytes received so far, as git writes them ("1.20 MiB")
    rate: Optional[str]  # "2.00 MiB/s"
    done: bool  # the stage ended (", done.")

    def detail(self) -> str:
        """The line again, short: stage, counts, bytes and rate, for the live display."""
        text = self.stage + (f" {self.handled}/{self.total}" if self.total else f" {self.handled}")
        text += f", {self.size}" if self.size else ""
        text += f" | {self.rate}" if self.rate else ""
        return text + (", done" if self.done else "")

    def brief(self) -> str:
        """A few words for a heartbeat line: "1.20 GiB received, 45% of objects"."""
        count = f"{self.percent}%" if self.percent is not None else str(self.handled)
        if self.stage != "Receiving objects":
            return f"{self.stage.lower()} {count}"
        return (f"{self.size} received, " if self.size else "") + f"{count} of objects"


def parse_progress(line: str) -> Optional[GitProgress]:
    """Parse one of git's progress lines (split on CR/LF); None for anything else."""
    match = _GIT_PROGRESS_RE.match(line.replace("\x1b[K", "").strip())  # a tty's erase-line
    if match is None:
        return None
    found = match.groupdict()
    stage = ("remote: " if found["remote"] else "") + found["stage"]
    total = int(found["total"]) if found["total"] else None
    return GitProgress(
        stage=stage,
        handled=int(found["count"] or found["plain"]),
        total=total,
        percent=int(found["percent"]) if found["percent"] else None,
        size=found["size"],
        rate=found["rate"],
        done=found["done"] is not None,
    )
