"""The interface a backend that runs RunRequests offers (the inline thread pool). Runs handed to
`vigil worker` processes go through Redis Queue instead (remediations.backends.rq)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from remediations.runner import RunRequest, RunResult

OnStart = Callable[[int], None]
OnDone = Callable[[RunResult], None]
OnOutput = Callable[[str], None]


class Backend(Protocol):
    """Runs RunRequests somewhere and reports back through callbacks."""

    def submit(
        self,
        req: RunRequest,
        on_start: OnStart | None = None,
        on_done: OnDone | None = None,
        on_output: OnOutput | None = None,
    ) -> Future[RunResult]:
        """Queue a run; on_start(pid) when it starts, on_output(text so far) while it
        prints, on_done(result) when it ends.

        Raises:
            RunnerError: the backend is shut down or its queue is full.
        """
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with wait, return after running work has finished."""
        ...
