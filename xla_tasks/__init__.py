"""xla-tasks: keep a workspace of OpenXLA / PyTorch-XLA repositories on the right commits.

`from xla_tasks import ns` gives the invoke Collection for a project's tasks.py. The
import is lazy (PEP 562) so library users of `xla_tasks.commands` do not pay for invoke.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "ns"]


def __getattr__(name: str) -> Any:
    if name == "ns":
        from xla_tasks.cli.tasks import ns

        return ns
    raise AttributeError(f"module 'xla_tasks' has no attribute {name!r}")
