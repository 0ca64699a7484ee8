"""An erased person's records arriving after `lakehouse forget` (a replay, records still inside Kinesis'
retention): dropped by the feature job before its keyed state and by the raw archive before the raw zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lakehouse.core.config import EventTimeSettings
from lakehouse.core.erasure import SUPPRESSION_KEY, Subject, Suppression
from lakehouse.core.lake.layout import LakeLayout
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from stream.archive import ArchiveReport, archive_batch
from stream.records import RawStreamRecord
from stream.state import REJECTS_KEY
from stream.stateful import routed_rows


def _record(seq: int, **fields) -> RawStreamRecord:
    base = {"event_id": f"m-{seq}", "message_id": f"m-{seq}", "type": "track", "event": "Product Viewed",
            "user_id": "u1", "anonymous_id": None, "customer_id": "u1", "previous_id": None,
            "timestamp": "2025-06-02T09:30:00.000Z", "received_at": "2025-06-02T10:00:00.000Z", "source": "test",
            "properties": {}, "traits": {}, "context": {}, "integrations": {}, "schema_version": 2}
    return RawStreamRecord(json.dumps({**base, **fields}).encode(), "shardId-0", str(seq),
                           datetime(2025, 6, 2, 10, tzinfo=UTC))


GONE = Suppression("").adding(Subject("u-gone", frozenset({"u-gone", "anon-gone"}),
                                      frozenset({"77aa@hashed.invalid"})), "erasure-1")


def test_the_stream_drops_events_and_rejects_of_an_erased_person() -> None:
    """Their valid events (under any id) and their invalid records (the stream's quarantine would keep them) are
    dropped before the keyed state, and counted; everyone else's pass. Seen failing without the suppression in
    routing: three event rows and one reject row of theirs; without the count: no ``suppressed`` row (the feature
    job's summary said nothing of the records it dropped)."""
    records = [_record(1), _record(2, user_id="u-gone", customer_id="u-gone"),
               _record(3, user_id=None, anonymous_id="anon-gone", customer_id="anon-gone"),
               _record(4, type="alias", event=None, previous_id="anon-gone", user_id="u7", customer_id="u7"),
               _record(5, user_id="u-gone", timestamp="not a time"),
               _record(6, type="identify", event=None, user_id="u-new", customer_id="u-new",
                       traits={"email": "77aa@hashed.invalid"})]
    rows = routed_rows(records, EventTimeSettings(), GONE)
    assert [(key, kind) for key, kind, _ in rows] == [("u1", "event"), (REJECTS_KEY, "suppressed")]
    assert rows[-1][2] == "5"
    assert len(routed_rows(records, EventTimeSettings(), Suppression(""))) == 6


def test_the_rejects_key_turns_the_suppressed_rows_of_a_micro_batch_into_one_count() -> None:
    """The keyed stage (:class:`stream.stateful.KeyStepper`) under the reserved key: rejects pass through, the
    ``suppressed`` rows of several routed frames become one ``counts`` row the micro-batch sums
    (``BatchResult.suppressed``). Seen failing before the kind existed: the rows were read as forwards
    (``AttributeError: 'int' object has no attribute 'get'``)."""
    import pandas as pd

    from stream.stateful import KeyStepper

    frames = [pd.DataFrame([(REJECTS_KEY, "suppressed", "3"), (REJECTS_KEY, "reject", "{}")],
                           columns=["key", "kind", "payload"]),
              pd.DataFrame([(REJECTS_KEY, "suppressed", "2")], columns=["key", "kind", "payload"])]
    stepper = KeyStepper(config=None, providers=lambda: (None, None))  # the reserved key reads neither
    (out,) = list(stepper((REJECTS_KEY,), iter(frames), state=None))
    assert list(out.itertuples(index=False, name=None)) == [(REJECTS_KEY, "reject", "{}"),
                                                           (REJECTS_KEY, "counts", json.dumps({"suppressed": 5}))]


def test_the_archive_keeps_them_out_of_the_raw_zone_and_counts_them(spark, tmp_path) -> None:
    """The archive's filter is Spark SQL (get_json_object, sha2): it must match the list's Python digest. A
    micro-batch with the list on the lake lands everyone else's records only and counts the person's (one under a
    new id with their e-mail hash). Seen failing before the count: a replay's dropped records were in no figure
    (archived = posted - theirs, said nowhere); with ids alone on the list, the new-id record landed."""
    storage = LakeStorage(LakeLayout.from_uri(str(tmp_path / "lake")))
    storage.put_bytes(SUPPRESSION_KEY, json.dumps(GONE.document()).encode())
    frame = spark.createDataFrame([(r.data,) for r in (_record(1), _record(2, user_id="u-gone"),
                                                       _record(3, user_id=None, anonymous_id="anon-gone"),
                                                       _record(4, user_id="u10"),
                                                       _record(5, user_id="u-new", context={
                                                           "traits": {"email": "77aa@hashed.invalid"}}))],
                                  "data binary")
    batch = archive_batch(frame, 0, storage=storage, region=None, run="r1", max_object_bytes=1 << 20, partitions=2)
    assert (batch.records, batch.archived, batch.suppressed) == (5, 2, 3)  # read, as the feature job counts
    landed = [json.loads(line)["event_id"] for o in batch.objects for line in decode_lines(storage.get_bytes(o.key))]
    assert sorted(landed) == ["m-1", "m-4"]
    assert ArchiveReport(batches=[batch]).summary()["suppressed"] == 3
