"""The warehouse query layer: SQL written in the Redshift dialect, run on Redshift or on the embedded DuckDB file.

The loader that fills the warehouse is a stage (``glue_jobs/warehouse``); this package only reads it.
"""


class WarehouseError(RuntimeError):
    """The warehouse could not be loaded or queried (a message meant for the user)."""
