"""Lambda entry point: ``handler.handler`` when this folder is the function's code root.

In the repository (tests, the local gateway) this module is ``lambdas.ingest.handler``. In AWS Lambda the
folder's files sit at the code root, so this file is loaded as the top-level module ``handler``; it then
registers its own folder as the package ``ingest`` so the relative imports of the other modules work.
The shared core (``lakehouse``) and the pinned dependencies come from the layer (``requirements.txt``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

if __package__:
    from .app import LambdaHandler, create_handler
else:  # pragma: no cover - exercised by the packaging test in a subprocess
    _folder = Path(__file__).resolve().parent
    _spec = importlib.util.spec_from_file_location("ingest", _folder / "__init__.py",
                                                   submodule_search_locations=[str(_folder)])
    sys.modules["ingest"] = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
    _spec.loader.exec_module(sys.modules["ingest"])  # type: ignore[union-attr]
    _app = importlib.import_module("ingest.app")
    LambdaHandler, create_handler = _app.LambdaHandler, _app.create_handler

_default_handler: LambdaHandler | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one API Gateway proxy event with settings from the environment (``LAKEHOUSE_*``)."""
    global _default_handler
    if _default_handler is None:
        _default_handler = create_handler()
    return _default_handler(event, context)
