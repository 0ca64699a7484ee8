"""The app's shared parts: the warehouse runner, the filters in the sidebar, KPI cards and the error boundary.

Every query goes through :func:`lakehouse.core.warehouse.query.run_warehouse_query` (the layer ``lakehouse sql``
uses: DuckDB locally, Redshift with ``LAKEHOUSE_WAREHOUSE_TARGET=redshift``), cached for a minute per SQL text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from dashboards.formatting import format_value
from lakehouse.core.config import Settings
from lakehouse.core.metrics.catalog import measure
from lakehouse.core.metrics.sql import Filters, MetricQueryError
from lakehouse.core.warehouse import WarehouseError

#: errors shown as a readable message on the page (anything else too, without its traceback)
EXPECTED = (WarehouseError, MetricQueryError, ValueError, KeyError, OSError)


@st.cache_resource
def settings() -> Settings:
    """The lakehouse settings of the process (LAKEHOUSE_* environment), read once."""
    return Settings()


@st.cache_data(ttl=60, show_spinner=False)
def _query(sql: str) -> pd.DataFrame:
    from lakehouse.core.warehouse.query import run_warehouse_query

    result = run_warehouse_query(settings(), sql, limit=None)
    return pd.DataFrame(result.rows, columns=result.columns)


def table_exists(name: str) -> bool:
    """Whether the warehouse has a table or view called ``name`` (information_schema: DuckDB and Redshift)."""
    found = run(f"SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = '{name}'")
    return bool(found.iloc[0, 0])


def run(sql: str) -> pd.DataFrame:
    """One SELECT on the warehouse as a DataFrame (a copy: callers may change it)."""
    return _query(sql).copy()


def filters_from_sidebar(bounds: tuple[date, date] | None, geographies: Sequence[str],
                         segments: Sequence[str]) -> Filters:
    """The sidebar's filters (kept across pages in the session state); the whole range by default."""
    sidebar = st.sidebar
    sidebar.header("Filters")
    start = end = None
    if bounds:
        chosen = sidebar.date_input("Date range", value=st.session_state.get("range", bounds), min_value=bounds[0],
                                    max_value=bounds[1], key="range")
        if isinstance(chosen, tuple | list) and len(chosen) == 2:
            start, end = chosen
        elif isinstance(chosen, tuple | list) and chosen:  # the second day not picked yet
            start = end = chosen[0]
    geos = sidebar.multiselect("Geography", list(geographies), key="geographies")
    segs = sidebar.multiselect("RFM segment (as of the period's end)", list(segments), key="segments")
    return Filters(start=start, end=end, geographies=tuple(geos), segments=tuple(segs))


def kpi_row(values: dict[str, Any], names: Sequence[str], currency: str, per_row: int = 4) -> None:
    """KPI cards: each measure's label (money ones with the currency) and formatted value, its definition as the
    card's help."""
    for offset in range(0, len(names), per_row):
        columns = st.columns(per_row)
        for column, name in zip(columns, names[offset:offset + per_row], strict=False):
            m = measure(name)
            raw = values.get(name)
            value = None if raw is None or pd.isna(raw) else float(raw)
            label = f"{m.label} ({currency})" if m.currency else m.label
            column.metric(label, format_value(value, m.format, None), help=m.description)


@contextmanager
def page(title: str, caption: str | None = None):
    """Title, then the page's body; an error becomes a readable message (never a traceback), and the page ends
    with a marker the browser tests and the benchmark wait for (``page-done: <title>``)."""
    started = time.perf_counter()
    st.title(title)
    if caption:
        st.caption(caption)
    try:
        yield
    except EXPECTED as exc:
        st.error(f"{title}: {exc}")
    except Exception as exc:
        st.error(f"{title} could not be drawn: {type(exc).__name__}: {exc}")
    st.caption(f"page-done: {title} · {1000 * (time.perf_counter() - started):.0f} ms")


def chart(figure: Any) -> None:
    """A Plotly figure at the page's width, without the mode bar's logo."""
    figure.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(figure, config={"displaylogo": False})


def guarded(render: Callable[[], None]) -> None:
    """Run a part of a page, showing a readable message instead of a traceback when it fails."""
    try:
        render()
    except EXPECTED as exc:
        st.error(str(exc))
