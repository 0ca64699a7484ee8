"""Step-by-step progress of a batch job, reported as ``on_progress(step, done, total)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

Progress = Callable[[str, int, int], None]


class Steps:
    """The named steps of one run: ``start(name)`` as each begins, ``finish()`` at the end."""

    def __init__(self, names: Sequence[str], on_progress: Progress | None):
        self.total = len(names)
        self.done = 0
        self.on_progress = on_progress

    def start(self, name: str) -> None:
        """Report that step ``name`` begins (``done`` counts the steps finished before it)."""
        if self.on_progress:
            self.on_progress(name, self.done, self.total)
        self.done += 1

    def finish(self) -> None:
        """Report ``("done", total, total)``."""
        if self.on_progress:
            self.on_progress("done", self.total, self.total)
