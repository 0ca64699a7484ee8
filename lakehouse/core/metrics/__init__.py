"""The metrics layer: every dashboard measure defined once over the star schema (see ``catalog``)."""
