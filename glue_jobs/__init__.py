"""Batch jobs of the lakehouse: raw -> curated -> star schema -> warehouse.

Each entry script (``raw_to_curated.py``, ``build_star.py``, ``load_warehouse.py``) runs as an AWS Glue 5
job (Spark 3.5) and locally through plain functions that take a ``SparkSession`` and ``Settings``.
"""
