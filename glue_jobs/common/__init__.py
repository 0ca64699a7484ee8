"""Shared plumbing of the batch jobs: job arguments, lake files, job state, the Glue Data Catalog."""
