"""Stand-in for ``awsglue.job`` (tests only; see the package docstring): :class:`Job` and its job bookmarks.

A Glue job bookmark is per job name and per source ``transformation_ctx``; for S3 sources it remembers the
objects (by modification time) that committed runs read. ``Job.init`` loads the committed state, the sources read
through the context consult it and note what they read, and ``Job.commit`` makes that permanent — only with
``job-bookmark-enable``: ``job-bookmark-pause`` reads what is new but never advances, ``job-bookmark-disable``
reads everything. A run that fails before ``commit`` leaves the state as it was, so the next run reads the same
objects again (AWS Glue Developer Guide, "Tracking processed data using job bookmarks").

Simplifications: the state lives in ``STAND_IN.bookmark_dir/<job name>.json`` (Glue keeps it in the service);
an object counts as seen when its path *and* modification time were seen (Glue compares modification times
with the previous runs' window; the two agree for objects written once, as our raw zone's are); bookmark
ranges, rewinds and ``isInitialized`` of the JVM job are not emulated beyond what is below.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from awsglue import STAND_IN

BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")


class Job:
    """``awsglue.job.Job``: ``init(job_name, args)`` before the work, ``commit()`` after it succeeded."""

    @classmethod
    def continuation_options(cls) -> list[str]:
        """The older spelling of the bookmark option and its values (as the real class lists them)."""
        return ["--continuation-option", "continuation-enabled", "continuation-readonly", "continuation-ignore"]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        """``--job-bookmark-option`` and its values."""
        return ["--job-bookmark-option", *BOOKMARK_OPTIONS]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        """The bookmark range options (reserved; ranges are not emulated)."""
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls) -> list[str]:
        """The identity parameters Glue passes (all but ``--JOB_NAME`` are reserved)."""
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        """``--encryption-type`` and its value."""
        return ["--encryption-type", "sse-s3"]

    def __init__(self, glue_context: Any):
        self._glue_context = glue_context
        self._name: str | None = None
        self.bookmark_option = "job-bookmark-disable"
        self._committed: dict[str, dict[str, str]] = {}
        self._read: dict[str, dict[str, str]] = {}

    def init(self, job_name: str, args: dict[str, Any] | None = None) -> None:
        """Start a run of ``job_name``; ``args`` are what ``getResolvedOptions`` returned (the bookmark option).

        Raises ``NotImplementedError`` for bookmark ranges and ``ValueError`` for an unknown bookmark option.
        """
        args = dict(args or {})
        option = args.get("job_bookmark_option") or "job-bookmark-disable"
        if option not in BOOKMARK_OPTIONS:
            raise ValueError(f"unknown job bookmark option {option!r}")
        if args.get("job_bookmark_from") or args.get("job_bookmark_to"):
            raise NotImplementedError("the awsglue stand-in does not emulate bookmark ranges")
        self._name, self.bookmark_option = job_name, option
        self._committed = self._load() if option != "job-bookmark-disable" else {}
        self._read = {}
        self._glue_context._job = self  # Glue's JVM job is one per run; its sources consult it
        STAND_IN.record("Job.init", job_name=job_name, args=args)

    def isInitialized(self) -> bool:
        """Whether :meth:`init` ran."""
        return self._name is not None

    def commit(self) -> None:
        """End the run: persist what its bookmarked sources read (``job-bookmark-enable`` only).

        Raises ``RuntimeError`` when the job was never initialised.
        """
        if self._name is None:
            raise RuntimeError("Job.commit() before Job.init()")
        if self.bookmark_option == "job-bookmark-enable" and self._read:
            state = {ctx: dict(seen) for ctx, seen in self._committed.items()}
            for ctx, read in self._read.items():
                state.setdefault(ctx, {}).update(read)
            self._save(state)
            self._committed, self._read = state, {}
        STAND_IN.record("Job.commit", job_name=self._name, bookmark_option=self.bookmark_option)

    # -- used by the context's bookmarked sources -------------------------------------------------------------

    def unseen(self, transformation_ctx: str, objects: dict[str, str]) -> dict[str, str]:
        """Of ``objects`` (path -> modification marker), those the bookmark has not seen; notes them as read.

        With bookmarks disabled or without a ``transformation_ctx`` every object is new (Glue's behaviour).
        """
        if self.bookmark_option == "job-bookmark-disable" or not transformation_ctx:
            return dict(objects)
        seen = self._committed.get(transformation_ctx, {})
        new = {path: marker for path, marker in objects.items() if seen.get(path) != marker}
        self._read.setdefault(transformation_ctx, {}).update(new)
        return new

    def _state_file(self) -> Path:
        if STAND_IN.bookmark_dir is None:
            raise RuntimeError("the awsglue stand-in needs STAND_IN.bookmark_dir for job bookmarks")
        return Path(STAND_IN.bookmark_dir) / f"{self._name}.json"

    def _load(self) -> dict[str, dict[str, str]]:
        path = self._state_file()
        return json.loads(path.read_text()) if path.is_file() else {}

    def _save(self, state: dict[str, dict[str, str]]) -> None:
        path = self._state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
