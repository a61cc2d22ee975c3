"""What ``DrainEngine`` needs of its front end (``Host``): the language server and
``drain-ls run`` each implement it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

from drain_ls.engine.choices import Prompter
from drain_ls.engine.drains import Task
from drain_ls.engine.outcomes import Result


class Host(Prompter, Protocol):
    """What the engine needs of its front end."""

    def warn(self, message: str) -> None:
        """Tell the user (once per message is the engine's business)."""
        ...

    def run_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task the front end cancels when it stops."""
        ...

    def open_paths(self) -> set[str]:
        """The resolved paths of the files the user has open (their drains are the front
        end's to submit: the deferred queue leaves them out)."""
        ...

    def resubmit(self) -> None:
        """Submit the drains of every open file again (the scheduler changed, or answers
        arrived in the results cache)."""
        ...

    def status_changed(self) -> None:
        """The drains' state changed (``DrainEngine.status``)."""
        ...

    def file_result(self, result: Result) -> None:
        """A drain's answer (a review's too, once the engine has read it)."""
        ...

    def admit(self, tasks: list[Task]) -> list[Task]:
        """Which of ``tasks`` (of the review, or deferred) go to the scheduler."""
        ...

    def reviews_changed(self) -> None:
        """A commit review has new findings (``DrainEngine.reviews``)."""
        ...
