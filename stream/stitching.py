"""Identity stitching in the stream: which customer each event of a micro-batch belongs to (pure).

The rule is :mod:`lakehouse.core.identity` (Segment's semantics): an identify with both ids links
``anonymous_id -> user_id``, an alias links ``previous_id -> user_id``; the first link of a source id wins,
a later link of it to another target is a conflict (counted, ignored); links are transitive, never cycles;
an event's customer is the resolution of its ``user_id``, else of its ``anonymous_id``.

**Where the stream can differ from the batch.** The batch sees every link at once and takes them in event-time
order. The stream takes them micro-batch by micro-batch: the links already stored (durably, in the dedup
table, :class:`StoredLink`) come first, then the micro-batch's own links in event-time order (then
``received_at``, ``event_id``). So two *conflicting* links (one anonymous id identified as two users) that
arrive in different micro-batches keep the one that *arrived* first, while the batch keeps the one stated
first; without conflicts both give the same customers. Within a micro-batch every link is taken before
any event is routed, so an anonymous event in the same micro-batch as its identify (before or after it)
goes to the customer.

:func:`stitch` returns the graph to route events with and the links this micro-batch adds. A link stored by
an earlier attempt of the *same* micro-batch (same token: Spark replays a batch with the same records)
counts as added by it again, so a replay merges exactly what the first attempt merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lakehouse.core.identity import IdentityGraph
from stream.records import StreamEvent


@dataclass(frozen=True)
class StoredLink:
    """An identity link as the dedup table keeps it (key ``identity#<source>``, no expiry)."""

    source: str
    target: str
    link_type: str  # identify | alias
    event_id: str
    event_ts: str  # ISO 8601
    batch_token: str  # the micro-batch that stored it

    @classmethod
    def of_event(cls, event: StreamEvent, token: str) -> StoredLink:
        """The link ``event`` states (it must state one: :attr:`StreamEvent.link`)."""
        source, target = event.link  # type: ignore[misc]
        return cls(source, target, event.type, event.event_id, event.said_at[0], token)


@dataclass
class Stitched:
    """A micro-batch's identities: the graph (stored links + this batch's), the links it adds, the conflicts."""

    graph: IdentityGraph
    new_links: list[StoredLink] = field(default_factory=list)
    conflicts: int = 0

    def customer_of(self, event: StreamEvent) -> str:
        """The customer an event belongs to: the resolution of its user id, else its anonymous id."""
        return self.graph.resolve(event.user_id or event.anonymous_id or event.customer_id)

    def absorbs(self) -> dict[str, list[str]]:
        """Customer -> the ids whose items merge into theirs in this micro-batch (the sources of the new links,
        by their final customer)."""
        merges: dict[str, list[str]] = {}
        for link in self.new_links:
            merges.setdefault(self.graph.resolve(link.source), []).append(link.source)
        return merges


def ids_of(events: Iterable[StreamEvent]) -> set[str]:
    """Every id the events name (whose stored links a micro-batch must read)."""
    ids: set[str] = set()
    for event in events:
        ids.update(i for i in (event.customer_id, event.user_id, event.anonymous_id, event.previous_id) if i)
    return ids


def stitch(events: Iterable[StreamEvent], stored: Mapping[str, StoredLink], token: str) -> Stitched:
    """The identities of a micro-batch: ``stored`` links (source -> link, read for every id of the batch and
    the ids they lead to) first, then the batch's links in event-time order (module docstring)."""
    known = {source: link.target for source, link in stored.items() if link.batch_token != token}
    graph = IdentityGraph(links=dict(known))
    stitched = Stitched(graph)
    for event in sorted((e for e in events if e.link is not None), key=lambda e: e.said_at):
        link = StoredLink.of_event(event, token)
        if graph.add(link.source, link.target):
            stitched.new_links.append(link)
    stitched.conflicts = graph.conflicts
    return stitched
