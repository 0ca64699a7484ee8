"""The identity-stitching rule on hand-drawn graphs."""

from lakehouse.core.identity import IdentityGraph, Link


def link(t: str, source: str, target: str) -> Link:
    return Link((t, t, f"e-{t}"), source, target)


def test_anonymous_then_identified():
    graph = IdentityGraph.of([link("2026-01-01T10:00", "anon-1", "u1")])
    assert graph.customer_of(None, "anon-1") == "u1"
    assert graph.customer_of("u1", "anon-1") == "u1"
    assert graph.customer_of(None, "anon-2") == "anon-2"


def test_first_link_wins_whatever_the_input_order():
    """One anonymous id with two users: the earlier link wins; seen failing when links were taken as listed."""
    later, earlier = link("2026-01-02", "anon-1", "u2"), link("2026-01-01", "anon-1", "u1")
    graph = IdentityGraph.of([later, earlier])
    assert graph.resolve("anon-1") == "u1"
    assert graph.conflicts == 1
    assert graph.resolve("u2") == "u2"


def test_alias_merges_two_known_ids_transitively():
    graph = IdentityGraph.of([link("1", "anon-1", "u1"), link("2", "u1", "u2")])
    assert graph.customer_of("u1", None) == "u2"
    assert graph.customer_of(None, "anon-1") == "u2"


def test_cycle_and_self_link_refused():
    graph = IdentityGraph.of([link("1", "a", "b"), link("2", "b", "a"), link("3", "c", "c")])
    assert graph.resolve("a") == "b" and graph.resolve("b") == "b"
    assert graph.resolve("c") == "c"
    assert graph.conflicts == 1


def test_repeated_same_link_is_no_conflict():
    graph = IdentityGraph.of([link("1", "anon", "u"), link("2", "anon", "u")])
    assert graph.conflicts == 0
