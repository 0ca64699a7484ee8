"""The lake: its layout below one root URI and object storage over it."""
