"""The `xla-tasks` console script and `python -m xla_tasks`: Ctrl-C is ours from here on.

Importing invoke, the tasks and GitPython takes ~150 ms, and an interrupt in that time
used to print Python's KeyboardInterrupt traceback. So importing this module (only the
two entry points do) first sets a handler that ends the run at once with the contract's
line and code: nothing has been read or written before the program starts, so there is
nothing to clean up. `Program.run` then installs the handlers that raise (see endings).
"""

import os
import signal
import sys


def _end_now(signum: int, frame: object) -> None:
    terminated = signum == signal.SIGTERM
    word, code = ("terminated", 143) if terminated else ("interrupted", 130)
    if "--json" in sys.argv:
        document = f'{{"command": null, "error": "{word}", "exit_code": {code}, "ok": false}}\n'
        os.write(1, document.encode())
    os.write(2, f"xla-tasks: {word}\n".encode())
    os._exit(code)


signal.signal(signal.SIGINT, _end_now)
signal.signal(signal.SIGTERM, _end_now)


def main() -> None:
    from xla_tasks.cli.startup import import_invoke_lightly

    import_invoke_lightly()  # a third of invoke's import is what we never use
    from xla_tasks.cli.program import program

    program.run()
