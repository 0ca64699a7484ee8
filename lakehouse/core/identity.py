"""Identity stitching: which customer an event belongs to (the rule; pure, no I/O).

Links come from two calls (Segment's identity semantics):

* ``identify`` with both ``anonymousId`` A and ``userId`` U links A -> U;
* ``alias`` with ``previousId`` P and ``userId`` U links P -> U (P may be an anonymous id or a user id:
  a merge of two known ids).

Rules (docs/identity.md):

1. **One target per id, first link wins.** Links are taken in order of (event time, ``received_at``,
   ``event_id``). A later link of an id that already points elsewhere is a *conflict*: it is counted and
   ignored (one anonymous id seen with two users stays with the first; a shared device's later user
   keeps their own id).
2. **Transitive.** A -> U1 and U1 -> U2 (an alias merging two known ids) put A's and U1's events on U2.
3. **No cycles, no self links.** A link whose target already resolves to its source (it would close a
   cycle) is a conflict; A -> A is ignored.
4. An event's ``customer_id`` is the resolution of its ``userId`` when it has one, else of its
   ``anonymousId``. The rule is order-independent given the same links: a late identify moves an
   anonymous id's earlier events to the customer whenever it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_HOPS = 32


@dataclass(frozen=True, order=True)
class Link:
    """``source`` -> ``target``, ordered by when it was said: (event time ISO, received_at ISO, event_id)."""

    said_at: tuple[str, str, str]
    source: str
    target: str


@dataclass
class IdentityGraph:
    """Accepted links (``source`` -> ``target``) and the count of conflicting ones; see the module rules."""

    links: dict[str, str] = field(default_factory=dict)
    conflicts: int = 0

    @classmethod
    def of(cls, links: Iterable[Link]) -> IdentityGraph:
        """The graph of ``links`` taken in their order (rule 1)."""
        graph = cls()
        for link in sorted(links):
            graph.add(link.source, link.target)
        return graph

    def add(self, source: str, target: str) -> bool:
        """Take one link, in order; True when it was accepted (False: ignored or a conflict)."""
        if not source or not target or source == target:
            return False
        current = self.links.get(source)
        if current is not None:
            if current != target:
                self.conflicts += 1
            return False
        if self.resolve(target) == source:
            self.conflicts += 1
            return False
        self.links[source] = target
        return True

    def resolve(self, identifier: str) -> str:
        """The customer id an id stands for: follow links to an id with none (at most :data:`MAX_HOPS`)."""
        seen = 0
        while identifier in self.links and seen < MAX_HOPS:
            identifier = self.links[identifier]
            seen += 1
        return identifier

    def customer_of(self, user_id: str | None, anonymous_id: str | None) -> str | None:
        """An event's customer (rule 4)."""
        identifier = user_id or anonymous_id
        return None if identifier is None else self.resolve(identifier)
