"""Customer Lakehouse: the shared core and the local tooling.

* :mod:`lakehouse.core` — the contract, configuration, lake layout and storage, AWS clients, write keys, RFM
  rules, job state and arguments, the warehouse query layer. It imports no stage and no local tooling, and is
  what every AWS artifact ships.
* :mod:`lakehouse.local` — the embedded AWS emulator, the local API gateway, the replay client, the data
  generator, the local batch runner, the demo and the CLI. It may import everything and ships to no AWS
  artifact.

The stages live beside this package: ``lambdas/``, ``glue_jobs/``, ``stream/`` (see docs/architecture.md).
"""

__version__ = "0.1.0"
