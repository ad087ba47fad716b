"""Notices: a line the user must see now, while a command waits (on a lock, say).

Results, warnings and failures come at the end through `ui.report`; a notice cannot wait
for the end, so it goes straight to stderr, redacted. Model code calls `notice` instead of
printing, so where such lines go is decided here, in one place.
"""

from __future__ import annotations

import sys

from xla_tasks.engine.model import redact


def notice(text: str) -> None:
    """Say `text` on stderr at once (`xla-tasks: ` in front)."""
    sys.stderr.write(redact(f"xla-tasks: {text}") + "\n")
    sys.stderr.flush()
