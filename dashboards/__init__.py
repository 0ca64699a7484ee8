"""Dashboards: the local web dashboard (Streamlit), the Power BI project, all read through the metrics layer.

A stage: it imports :mod:`lakehouse.core` only (the metrics layer, settings, the warehouse query layer and the
AWS clients for the live features).
"""
