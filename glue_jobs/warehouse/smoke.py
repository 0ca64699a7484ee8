"""Smoke test of the warehouse load against a real Redshift Serverless workgroup (for people who have one).

No test runs it against AWS (moto does not implement Redshift Serverless); its argument parsing and the plan it
prints are tested offline. It loads the latest star build of an ``s3://`` lake into a schema of its own (default
``lakehouse_smoke``, so production tables are never touched), the way ``lakehouse batch --target redshift`` and
the Glue job ``load_warehouse`` do (``redshift_connector``, IAM to the workgroup, one transaction, COPY with the
IAM role), then checks what only Redshift can tell:

1. every statement of the plan follows the documented grammar (:mod:`glue_jobs.warehouse.grammar`) — checked
   before connecting;
2. the load commits, and every star table's row count equals the rows of its Parquet files (the COPY manifests);
3. every mart view answers ``SELECT COUNT(*)`` (Redshift compiles the view's SQL, which DuckDB cannot prove);
4. a second, forced load of the same build leaves the same row counts (the MERGE is idempotent).

Usage::

    python -m glue_jobs.warehouse.smoke --workgroup my-wg --database dev \\
        --copy-role-arn arn:aws:iam::123456789012:role/redshift-copy --lake-root s3://my-lake/lakehouse \\
        [--schema lakehouse_smoke] [--region eu-west-1] [--drop-schema] [--dry-run]

Each option defaults to the matching setting (``LAKEHOUSE_REDSHIFT__WORKGROUP``, ``__DATABASE``,
``__COPY_ROLE_ARN``, ``LAKEHOUSE_LAKE_ROOT``, ``AWS_DEFAULT_REGION``). ``--dry-run`` prints the plan and
exits without connecting. Exit status: 0 passed, 1 a check or the load failed (one line on stderr), 2 bad
arguments. The caller's AWS credentials need ``redshift-serverless:GetCredentials`` on the workgroup; the COPY
role needs read access to the lake bucket.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from glue_jobs.warehouse import grammar
from glue_jobs.warehouse.load import RedshiftTarget, load_warehouse, redshift_connection
from glue_jobs.warehouse.sql_files import star_tables, views
from lakehouse.core.config import RedshiftSettings, Settings
from lakehouse.core.warehouse import WarehouseError

SMOKE_SCHEMA = "lakehouse_smoke"


@dataclass(frozen=True)
class SmokeOptions:
    """What the smoke test runs against (each None: the setting's value)."""

    workgroup: str | None
    database: str | None
    schema: str
    copy_role_arn: str | None
    lake_root: str | None
    region: str | None
    drop_schema: bool
    dry_run: bool


def parse_args(argv: Sequence[str] | None = None) -> SmokeOptions:
    """The command line as :class:`SmokeOptions`; exits with status 2 on a bad argument (argparse)."""
    parser = argparse.ArgumentParser(prog="python -m glue_jobs.warehouse.smoke",
                                     description="Load the latest star build into a Redshift Serverless workgroup "
                                                 "and check the result.")
    parser.add_argument("--workgroup", help="Redshift Serverless workgroup (LAKEHOUSE_REDSHIFT__WORKGROUP)")
    parser.add_argument("--database", help="database (LAKEHOUSE_REDSHIFT__DATABASE, default dev)")
    parser.add_argument("--schema", default=SMOKE_SCHEMA, help=f"schema to load into (default {SMOKE_SCHEMA})")
    parser.add_argument("--copy-role-arn", help="IAM role COPY assumes (LAKEHOUSE_REDSHIFT__COPY_ROLE_ARN)")
    parser.add_argument("--lake-root", help="the s3:// lake holding the star build (LAKEHOUSE_LAKE_ROOT)")
    parser.add_argument("--region", help="AWS region (AWS_DEFAULT_REGION)")
    parser.add_argument("--drop-schema", action="store_true", help="drop the schema (CASCADE) when done")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, do not connect")
    args = parser.parse_args(argv)
    if args.schema.lower() == RedshiftSettings().schema_name:
        parser.error(f"--schema {args.schema} is the production schema; the smoke test loads a schema of its own")
    return SmokeOptions(args.workgroup, args.database, args.schema, args.copy_role_arn, args.lake_root, args.region,
                        args.drop_schema, args.dry_run)


def smoke_settings(options: SmokeOptions, base: Settings | None = None) -> Settings:
    """``base`` (default: the environment's settings) with the options given on the command line, the Redshift
    target and the smoke schema."""
    base = base or Settings()
    redshift = base.redshift.model_copy(update={k: v for k, v in {
        "workgroup": options.workgroup, "database": options.database, "copy_role_arn": options.copy_role_arn,
        "schema_name": options.schema}.items() if v is not None})
    update: dict[str, Any] = {"redshift": redshift, "warehouse_target": "redshift"}
    if options.lake_root:
        update["lake_root"] = options.lake_root
    if options.region:
        update["region"] = options.region
    return base.model_copy(update=update)


def checks(schema: str) -> list[tuple[str, str]]:
    """(what, query) run after the load: every star table's row count and every mart view's."""
    out = [(f"rows of {name}", f"SELECT COUNT(*) FROM {schema}.{name}") for name in star_tables()]
    out += [(f"view {view.name} answers", f"SELECT COUNT(*) FROM {schema}.{view.name}") for view in views()]
    return out


def plan(settings: Settings, version: str = "<star build id>") -> list[tuple[str, str]]:
    """(step, SQL) of everything the smoke test sends: the load's statements, the checks, the optional cleanup.

    Raises ``WarehouseError`` when a setting the load needs is missing (COPY role, s3:// lake) and
    ``grammar.GrammarError`` for a statement that breaks Redshift's documented grammar."""
    schema = settings.redshift.schema_name
    out = RedshiftTarget(settings).statements(version)
    out += [("check", sql) for _, sql in checks(schema)]
    out.append(("cleanup", f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    for _, sql in out:
        grammar.check(sql)
    return out


def expected_rows(settings: Settings) -> dict[str, int]:
    """Rows of each star table in the latest build, from its Parquet footers (read through the lake's S3 client)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from glue_jobs.warehouse.load import manifests
    from lakehouse.core.lake.storage import LakeStorage

    storage = LakeStorage(settings.lake, region=settings.region)
    prefix = settings.lake.uri("")
    counts = {}
    for name, files in manifests(settings).items():
        counts[name] = 0
        for url in files:
            key = url.removeprefix(prefix).lstrip("/")
            counts[name] += pq.ParquetFile(pa.BufferReader(storage.get_bytes(key))).metadata.num_rows
    return counts


def run(options: SmokeOptions, settings: Settings, connect: Callable[[], Any] | None = None,
        say: Callable[[str], None] = print) -> list[str]:
    """Run the smoke test; returns the failed checks (empty: passed). Raises ``WarehouseError`` when the load
    fails (it rolled back)."""
    connect = connect or (lambda: redshift_connection(settings))
    target = RedshiftTarget(settings, connect=connect)
    failures: list[str] = []
    first = load_warehouse(settings, target=target, force=True)
    if first.skipped:
        return [f"nothing loaded: {first.skipped}"]
    say(f"loaded star build {first.version} into {settings.redshift.schema_name} "
        f"({first.statements} statements, {first.seconds:.1f} s)")
    expected = expected_rows(settings)
    failures += [f"{name}: {first.tables.get(name)} rows in Redshift, {rows} in the build"
                 for name, rows in expected.items() if first.tables.get(name) != rows]
    con = connect()
    try:
        cursor = con.cursor()
        for what, sql in checks(settings.redshift.schema_name):
            try:
                cursor.execute(sql)
                cursor.fetchone()
                say(f"ok: {what}")
            except Exception as exc:  # report every view that fails, not only the first
                failures.append(f"{what}: {str(exc).splitlines()[0]}")
                con.rollback()
    finally:
        con.close()
    second = load_warehouse(settings, target=target, force=True)
    if second.tables != first.tables:
        failures.append(f"a second load changed row counts: {first.tables} -> {second.tables}")
    if options.drop_schema:
        con = connect()
        try:
            con.cursor().execute(f"DROP SCHEMA IF EXISTS {settings.redshift.schema_name} CASCADE")
            con.commit()
        finally:
            con.close()
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 (passed), 1 (failed: one line per failure on stderr) or 2 (bad arguments)."""
    options = parse_args(argv)
    settings = smoke_settings(options)
    production = Settings().redshift.schema_name
    if options.schema == production:
        print(f"smoke: error: --schema {production} is the configured production schema; choose another",
              file=sys.stderr)
        return 2
    try:
        statements = plan(settings)
    except (WarehouseError, grammar.GrammarError) as exc:
        print(f"smoke: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, WarehouseError) else 1
    if options.dry_run:
        print(json.dumps([{"step": step, "sql": sql} for step, sql in statements], indent=1))
        return 0
    try:
        failures = run(options, settings)
    except WarehouseError as exc:
        failures = [str(exc)]
    for failure in failures:
        print(f"smoke: failed: {failure}", file=sys.stderr)
    if not failures:
        print("smoke: passed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
