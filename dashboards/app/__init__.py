"""The local web dashboard: a Streamlit app over the warehouse (``lakehouse dashboard`` starts it)."""

from pathlib import Path

#: the script ``streamlit run`` starts
ENTRY = Path(__file__).with_name("main.py")
