"""Shared plumbing of the batch jobs: where a job runs (Glue or local), lake files, progress, the Glue Data Catalog.

Job arguments and job state live in the core (``lakehouse/core/job_args.py``, ``lakehouse/core/job_state.py``).
"""
