"""The Power BI project (PBIP, semantic model in TMDL) on the Redshift warehouse, generated from the metrics layer.

``python -m dashboards.powerbi.build`` writes ``dashboards/powerbi/project/``: the star tables and columns of the
warehouse DDL (:mod:`.ddl`), their relationships (:mod:`.semantic`), one DAX measure per measure of
:data:`lakehouse.core.metrics.catalog.MEASURES` (:mod:`.dax`), rendered as TMDL (:mod:`.tmdl`) inside a Power BI
Project with a minimal report and a ``.pbids`` connection file (:mod:`.project`). ``README.md`` says how to open
it and what was checked without Power BI Desktop.
"""
