"""The dashboard's entry script (``streamlit run dashboards/app/main.py``; ``lakehouse dashboard`` starts it).

The sidebar's filters (date range, geography, RFM segment) hold across pages; each page is a function of
:mod:`dashboards.app.pages`, reached by its URL path (``/overview``, ``/churn``, …).
"""

from __future__ import annotations

import streamlit as st

from dashboards import queries
from dashboards.app.pages import PAGES
from dashboards.app.ui import EXPECTED, filters_from_sidebar, run

st.set_page_config(page_title="Customer Lakehouse", layout="wide")


def _choices():
    bounds = queries.date_bounds(run)
    return bounds, queries.geographies(run), queries.segments(run)


try:
    bounds, geographies, segments = _choices()
except EXPECTED as exc:  # every page then says what it cannot read; Real time needs no warehouse
    st.sidebar.error(f"The warehouse cannot be read: {exc}. Build it with `lakehouse batch` (or `make demo`).")
    bounds, geographies, segments = None, [], []

filters = filters_from_sidebar(bounds, geographies, segments)


def _page(render, title: str):
    def draw() -> None:
        render(filters)

    draw.__name__ = render.__name__
    default = render is PAGES[0][1]  # served at "/"
    return st.Page(draw, title=title, url_path=None if default else render.__name__.replace("_", "-"),
                   default=default)


navigation = st.navigation([_page(render, title) for title, render in PAGES])
navigation.run()
