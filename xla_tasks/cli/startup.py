"""Start-up of the standalone program: invoke, without three imports it makes and we never use.

Importing invoke imports all of it, and a third of that time goes to three things this
program does not use (`python -X importtime`, invoke 3.0.3, Python 3.11):
- `unittest.mock` (and asyncio with it), for invoke's `MockContext`, a testing aid;
- `importlib.metadata` (and the email package with it), to read invoke's own version;
- invoke's bundled yaml, needed only when an `invoke.yaml` file is actually read.
`import_invoke_lightly` imports invoke with stand-ins there: a `Mock` that imports the real
one when it is called, a version read from invoke's `dist-info` folder name, and a yaml
loaded on first use (`importlib.util.LazyLoader`). The stand-ins of the standard library's
modules are gone from `sys.modules` once invoke is in, so any later import gets the real
module. Only the standalone program does this: under plain `invoke`, invoke is in first.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from typing import Any


def import_invoke_lightly() -> None:
    """Import invoke without unittest.mock, importlib.metadata and (until used) its yaml."""
    if "invoke" in sys.modules:
        return
    spec = importlib.util.find_spec("invoke")
    home = os.path.dirname(spec.origin) if spec is not None and spec.origin else None
    version = _dist_version(home) if home else None
    if home is None or version is None:  # an unusual install: import it as it is
        import invoke

        return
    stand_ins = {
        "unittest.mock": _module("unittest.mock", Mock=_mock),
        "importlib.metadata": _module("importlib.metadata", version=lambda name: version),
    }
    for name, module in stand_ins.items():
        sys.modules.setdefault(name, module)
    _lazy("invoke.vendor.yaml", os.path.join(home, "vendor", "yaml"))
    try:
        import invoke  # noqa: F401
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _mock(*args: Any, **kwargs: Any) -> Any:
    """invoke's `Mock`: the real one, imported when MockContext first makes one."""
    from unittest.mock import Mock

    return Mock(*args, **kwargs)


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, "a stand-in while invoke is imported (xla_tasks.cli.startup)")
    module.__dict__.update(attributes)
    return module


def _dist_version(home: str) -> str | None:
    """invoke's version from its `invoke-X.Y.Z.dist-info` folder beside the package."""
    prefix, suffix = "invoke-", ".dist-info"
    try:
        found = [
            entry[len(prefix) : -len(suffix)]
            for entry in os.listdir(os.path.dirname(home))
            if entry.startswith(prefix) and entry.endswith(suffix)
        ]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


def _lazy(name: str, folder: str) -> None:
    """Register package `name` (at `folder`) to be executed on first attribute access."""
    init = os.path.join(folder, "__init__.py")
    if name in sys.modules or not os.path.isfile(init):
        return
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[folder])
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
