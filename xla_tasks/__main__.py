"""`python -m xla_tasks TASK ...`: the same program as the `xla-tasks` command."""

from xla_tasks.entry import main

main()
