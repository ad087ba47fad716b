"""`status`: not built yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import XlaTasksError
from ..results import CommandResult
from ..settings import Options


def status(start: Path, options: Options, *args: Any, **kwargs: Any) -> CommandResult:
    raise XlaTasksError("'status' is not available yet in this version of xla-tasks")
