"""Customer Lakehouse core: event contract, configuration, AWS access, local runtime and CLI."""

__version__ = "0.1.0"
