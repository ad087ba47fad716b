"""Checking out the pin, detached, and recording it in our pin ref (which keeps it from gc
and tells a later sync that it is ours, not the user's work).
"""

from xla_tasks.engine.disk import is_partial, write_ref
from xla_tasks.engine.job import Job
from xla_tasks.engine.model import PIN_REF, SyncError
from xla_tasks.engine.process import first_error, git, run_network


def checkout_pin(job: Job, path: str, git_dir: str) -> None:
    """Detach at the pin and record it in the pin ref (which also keeps it from gc).

    In a blobless clone the checkout fetches blobs, so it runs under the watchdog.
    """
    rev = job.repo.rev or ""
    job.phase("checkout")
    args = ["checkout", "-q", "--detach", rev, "--"]
    if is_partial(git_dir):
        res = run_network(["-c", "checkout.workers=0", *args], path, job.watch(job.repo.url))
        if res.code != 0:
            raise SyncError(f"checkout of {rev[:12]} failed: {first_error(res.err)}")
    else:
        git(args, path, f"checkout of {rev[:12]}")
    write_ref(git_dir, PIN_REF, rev)
