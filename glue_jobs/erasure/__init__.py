"""Erasure of one person from the lake (the right to be forgotten): ``glue_jobs.erasure.lake``."""
