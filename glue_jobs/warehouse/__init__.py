"""The warehouse load: the latest star build -> Redshift Serverless (COPY + MERGE) or the embedded DuckDB file.

SQL is authored once in the Redshift dialect (``glue_jobs/sql``); locally sqlglot translates it for DuckDB.
"""
