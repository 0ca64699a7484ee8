"""The core every stage shares: it imports no stage (``lambdas``, ``glue_jobs``, ``stream``) and no local tooling.

The import contracts in ``pyproject.toml`` (``lint-imports``, run by ``make test``) enforce that direction.
"""
