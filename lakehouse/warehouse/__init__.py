"""The warehouse: SQL authored once in the Redshift dialect, loaded into Redshift Serverless on AWS or
an embedded DuckDB file locally (transpiled with sqlglot)."""
