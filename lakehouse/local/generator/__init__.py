"""Synthetic customer events (deterministic, realistic, scalable) and the CDNOW purchase-log loader.

``generate(GeneratorConfig(...), out_dir)`` writes chunked gzip JSON lines of Segment-style calls, a
``manifest.json`` and ground truth; ``load_cdnow(out_dir)`` replays the real CDNOW log as orders.
See docs/data-generator.md.
"""

from lakehouse.local.generator.cdnow import CDNOW_CUSTOMERS, CDNOW_ORDERS, load_cdnow
from lakehouse.local.generator.config import ConfigError, GeneratorConfig
from lakehouse.local.generator.report import GenerationReport, read_manifest
from lakehouse.local.generator.run import customers_for_events, events_per_customer, generate

__all__ = [
    "CDNOW_CUSTOMERS",
    "CDNOW_ORDERS",
    "ConfigError",
    "GenerationReport",
    "GeneratorConfig",
    "customers_for_events",
    "events_per_customer",
    "generate",
    "load_cdnow",
    "read_manifest",
]
