"""The CDK app: six stacks for one stage (seven with ``-c quicksight=true``), checked by cdk-nag on every synth.

``npx cdk synth -c stage=prod`` runs ``python -m infra.app`` (see cdk.json). Tests call :func:`create_app`.
"""

from __future__ import annotations

import os

# jsii prints a banner on every start when Node is past its end of life; the CDK works on it all the same.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import App, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra import build
from infra.components import nag
from infra.components.batch_pipeline import StepFactory
from infra.config import PROFILE_FIELDS, QUICKSIGHT_KEYS, Deployment, deployment_from_context
from infra.stacks.batch import BatchStack
from infra.stacks.dashboards import DashboardsStack
from infra.stacks.ingestion import IngestionStack
from infra.stacks.monitoring import MonitoringStack
from infra.stacks.storage import StorageStack
from infra.stacks.streaming import StreamingStack
from infra.stacks.warehouse import WarehouseStack


@dataclass(frozen=True)
class Lakehouse:
    """The app and its stacks, in deployment order."""

    app: App
    deployment: Deployment
    storage: StorageStack
    streaming: StreamingStack
    ingestion: IngestionStack
    warehouse: WarehouseStack
    batch: BatchStack
    monitoring: MonitoringStack
    dashboards: DashboardsStack | None = None  # only with -c quicksight=true

    @property
    def stacks(self) -> list[Stack]:
        """The stacks of the stage in dependency order: the six core stacks, then Dashboards when it is on."""
        core = [self.storage, self.streaming, self.ingestion, self.warehouse, self.batch, self.monitoring]
        return core + ([self.dashboards] if self.dashboards is not None else [])


def create_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    batch_steps: Sequence[StepFactory] = (),
    run_nag: bool = True,
    sources: build.Sources | None = None,
) -> Lakehouse:
    """Build every stack of one stage. ``context`` replaces CDK's context (tests pass cdk.json's explicitly).

    ``batch_steps`` appends states to the batch state machine after the warehouse load (see docs/deploy.md).
    ``sources`` says where the code to package lives (the repository by default).
    """
    sources = sources or build.Sources()
    nag.reset()
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    deployment = deployment_from_context(_context(app))
    names = deployment.names
    env = Environment(account=deployment.account, region=deployment.region)
    common: dict[str, Any] = {"env": env, "termination_protection": deployment.profile.retain_data}

    storage = StorageStack(app, "Storage", deployment=deployment, stack_name=f"{names.prefix}-storage", **common)
    streaming = StreamingStack(
        app,
        "Streaming",
        deployment=deployment,
        storage=storage,
        library=build.streaming_library(sources),
        python_modules=build.glue_python_modules(sources, kind="spark"),
        script=sources.streaming_script,
        stack_name=f"{names.prefix}-streaming",
        **common,
    )
    ingestion = IngestionStack(
        app,
        "Ingestion",
        deployment=deployment,
        storage=storage,
        streaming=streaming,
        layer_dir=build.ingest_layer(sources),
        code_dir=sources.ingest,
        stack_name=f"{names.prefix}-ingestion",
        **common,
    )
    warehouse = WarehouseStack(
        app, "Warehouse", deployment=deployment, storage=storage, stack_name=f"{names.prefix}-warehouse", **common
    )
    batch = BatchStack(
        app,
        "Batch",
        deployment=deployment,
        storage=storage,
        warehouse=warehouse,
        library=build.batch_library(sources),
        python_modules=build.glue_python_modules(sources, kind="spark"),
        warehouse_python_modules=build.glue_python_modules(sources, kind="warehouse"),
        erasure_python_modules=build.glue_python_modules(sources, kind="erasure"),
        ml_library=build.ml_library(sources),
        ml_python_modules=build.glue_python_modules(sources, kind="ml"),
        scripts_dir=sources.glue_scripts,
        ml_script=sources.ml_script,
        extra_steps=batch_steps,
        stack_name=f"{names.prefix}-batch",
        **common,
    )
    monitoring = MonitoringStack(
        app,
        "Monitoring",
        deployment=deployment,
        storage=storage,
        streaming=streaming,
        ingestion=ingestion,
        batch=batch,
        stack_name=f"{names.prefix}-monitoring",
        **common,
    )

    dashboards = None
    if deployment.quicksight.enabled:
        dashboards = DashboardsStack(
            app,
            "Dashboards",
            deployment=deployment,
            warehouse=warehouse,
            sql_dir=sources.root / "glue_jobs" / "sql",
            stack_name=f"{names.prefix}-dashboards",
            **common,
        )

    Tags.of(app).add("project", deployment.settings.project)
    Tags.of(app).add("stage", deployment.settings.stage)
    if run_nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return Lakehouse(app, deployment, storage, streaming, ingestion, warehouse, batch, monitoring, dashboards)


def _context(app: App) -> dict[str, Any]:
    """The context keys the deployment reads: identity, placement and every stage-profile field."""
    keys = (
        "stage",
        "project",
        "region",
        "account",
        "kinesis_shards",
        "availability_zones",
        *QUICKSIGHT_KEYS,
        *PROFILE_FIELDS,
    )
    return {key: value for key in keys if (value := app.node.try_get_context(key)) is not None}


def main() -> None:
    """Synthesize the app for the stage in the CDK context (``cdk synth`` runs this through ``cdk.json``); a bad
    context value ends it with its one-line message (exit code 2), not a traceback."""
    import sys

    try:
        lakehouse = create_app()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    lakehouse.app.synth()


if __name__ == "__main__":
    main()
