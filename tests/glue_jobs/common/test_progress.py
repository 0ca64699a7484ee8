"""Step progress: each step is reported with how many came before it, then 'done'."""

from __future__ import annotations

from glue_jobs.common.progress import Steps


def test_steps_report_position_and_total_then_done() -> None:
    seen: list[tuple[str, int, int]] = []
    steps = Steps(["read", "write", "commit"], lambda name, done, total: seen.append((name, done, total)))
    for name in ("read", "write", "commit"):
        steps.start(name)
    steps.finish()
    assert seen == [("read", 0, 3), ("write", 1, 3), ("commit", 2, 3), ("done", 3, 3)]


def test_without_a_listener_steps_are_still_counted() -> None:
    steps = Steps(["a", "b"], None)
    steps.start("a")
    steps.finish()
    assert steps.done == 1 and steps.total == 2
