"""`python -m xla_tasks TASK ...`: the same program as the `xla-tasks` command."""

from xla_tasks.cli.entry import main

main()
