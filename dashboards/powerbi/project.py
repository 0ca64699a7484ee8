"""The Power BI Project around the TMDL model: ``.pbip``, the semantic model and report folders, a ``.pbids`` file.

Formats (Microsoft Learn, "Power BI Desktop projects (PBIP)",
https://learn.microsoft.com/power-bi/developer/projects/projects-overview, and its pages on the semantic model
and report folders; JSON schemas in microsoft/powerbi-desktop-samples ``item-schemas`` and
microsoft/json-schemas ``fabric/item/report``):

* ``<Name>.pbip``: ``version`` and ``artifacts`` (the report folder, a relative path);
* ``<Name>.SemanticModel/definition.pbism``: ``version`` "4.0" or above lets the model be a TMDL ``definition/``;
* ``<Name>.Report/definition.pbir``: ``datasetReference.byPath`` -> the semantic model folder (relative, ``/``);
  the report in the enhanced report format (PBIR): ``definition/version.json``, ``report.json``,
  ``pages/pages.json`` and one ``pages/<page>/page.json`` (an empty Overview page to build on);
* ``<Name>.pbids`` (Microsoft Learn, "Data sources in Power BI Desktop", section "Use PBIDS files to get data"):
  ``version`` "0.1" and one connection ``details`` {``protocol``, ``address`` {server, database}}, ``mode``.
"""

from __future__ import annotations

import json
from typing import Any

from dashboards.powerbi.tmdl import default_server
from lakehouse.core.config import RedshiftSettings

NAME = "CustomerLakehouse"
SCHEMAS = "https://developer.microsoft.com/json-schemas/fabric"
#: the PBIDS protocol of the Amazon Redshift connector: NOT in Microsoft's published examples (see README)
REDSHIFT_PROTOCOL = "amazon-redshift"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def pbip() -> str:
    """``CustomerLakehouse.pbip``: opens the report (and with it the semantic model)."""
    return _json({"version": "1.0", "artifacts": [{"report": {"path": f"{NAME}.Report"}}],
                  "settings": {"enableAutoRecovery": True}})


def pbism() -> str:
    """``definition.pbism``: format version 4.0 (TMDL definition folder allowed)."""
    return _json({"version": "4.0", "settings": {}})


def report_files() -> dict[str, str]:
    """The report folder's files (PBIR), by path relative to ``<Name>.Report``."""
    page = "overview"
    return {
        "definition.pbir": _json({"$schema": f"{SCHEMAS}/item/report/definitionProperties/2.0.0/schema.json",
                                  "version": "4.0",
                                  "datasetReference": {"byPath": {"path": f"../{NAME}.SemanticModel"}}}),
        "definition/version.json": _json({"$schema": f"{SCHEMAS}/item/report/definition/versionMetadata/1.0.0/"
                                                     "schema.json", "version": "2.0.0"}),
        "definition/report.json": _json({"$schema": f"{SCHEMAS}/item/report/definition/report/1.0.0/schema.json",
                                         "themeCollection": {}, "layoutOptimization": "None"}),
        "definition/pages/pages.json": _json({"$schema": f"{SCHEMAS}/item/report/definition/pagesMetadata/1.0.0/"
                                                         "schema.json", "pageOrder": [page],
                                              "activePageName": page}),
        f"definition/pages/{page}/page.json": _json({"$schema": f"{SCHEMAS}/item/report/definition/page/1.0.0/"
                                                                "schema.json", "name": page,
                                                     "displayName": "Overview", "displayOption": "FitToPage",
                                                     "height": 720, "width": 1280}),
    }


def pbids(settings: RedshiftSettings | None = None) -> str:
    """``CustomerLakehouse.pbids``: one Amazon Redshift connection in import mode (no credentials, no tables)."""
    s = settings or RedshiftSettings()
    return _json({"version": "0.1", "connections": [
        {"details": {"protocol": REDSHIFT_PROTOCOL, "address": {"server": default_server(s), "database": s.database}},
         "options": {}, "mode": "Import"}]})


GITIGNORE = "**/.pbi/localSettings.json\n**/.pbi/cache.abf\n"
