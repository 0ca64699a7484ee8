"""Size limits of the ingestion API, as Segment's HTTP Tracking API documents them.

Source: Segment, "HTTP Tracking API" — Max Request Size: 32 KB per call, 500 KB per batch request, and
2,500 events per batch. The ingest function enforces them (``lambdas/ingest/limits.py``); the CDK stack sizes
the API Gateway request validation from :data:`MAX_REQUEST_BYTES`.
"""

from __future__ import annotations

KB = 1024
MAX_EVENT_BYTES = 32 * KB  #: one call, as compact UTF-8 JSON
MAX_REQUEST_BYTES = 500 * KB  #: one request body, after decompression
MAX_BATCH_EVENTS = 2_500  #: calls in one batch
#: the longest JSON number the lake stores, in characters of the text written (sign, digits, point, exponent).
#: Not a Segment limit: Spark's JSON reader (Jackson's ``StreamReadConstraints``, 1,000-digit numbers by
#: default) cannot read a line holding a longer integer part, and then the whole event would be unreadable
#: downstream. No amount, count or id needs more than a few dozen; a tenth of Jackson's bound leaves room
#: for other readers.
MAX_NUMBER_CHARS = 100

EVENT_LIMIT_TEXT = f"{MAX_EVENT_BYTES // KB} KB ({MAX_EVENT_BYTES} bytes) per event"
REQUEST_LIMIT_TEXT = f"{MAX_REQUEST_BYTES // KB} KB ({MAX_REQUEST_BYTES} bytes) per request"
BATCH_LIMIT_TEXT = f"{MAX_BATCH_EVENTS} events per batch"
