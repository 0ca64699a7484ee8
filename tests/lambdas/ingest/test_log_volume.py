"""What the ingest function writes to CloudWatch Logs per request, measured, against the cost model's figure."""

from __future__ import annotations

import io

from infra.cost import Assumptions
from lambdas.ingest.app import logger
from tests.lake_fixtures import at, call

REQUESTS = 5


def ten_events(request: int) -> dict:
    return {"batch": [call("Product Viewed", f"c{request:03d}{i}", at(1, minute=i), product_id=f"p-{i}",
                           category="shoes", price=19.99) for i in range(10)]}


def test_the_cost_model_prices_the_log_lines_the_function_writes(api, capsys) -> None:
    """Bytes per warm 10-event request: the function's JSON log lines (its logger's stream) and the EMF metric line
    (printed to stdout), within 25 % of ``Assumptions.function_log_bytes_per_request``. Seen failing at 484 bytes
    when only one of the two streams was counted."""
    assert api.post("/v1/batch", ten_events(0)).status == 200  # cold-start lines are not per request
    handler = logger.registered_handler
    lines = io.StringIO()
    previous, level = handler.setStream(lines), logger.log_level
    logger.setLevel("INFO")  # the deployed level; a quiet local gateway earlier in the session turns it down
    capsys.readouterr()
    try:
        for request in range(1, REQUESTS + 1):
            assert api.post("/v1/batch", ten_events(request)).status == 200
    finally:
        handler.setStream(previous)
        logger.setLevel(level)
    printed = capsys.readouterr().out
    assert '"ingested"' in lines.getvalue() and '"CloudWatchMetrics"' in printed  # both kinds were counted
    written = (len(lines.getvalue().encode()) + len(printed.encode())) / REQUESTS
    assumed = Assumptions().function_log_bytes_per_request
    assert 0.75 * assumed <= written <= 1.25 * assumed, (written, assumed)
