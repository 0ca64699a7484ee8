"""Load the star build and the ML scoring runs into the warehouse: the embedded DuckDB file (default) or Redshift
Serverless.

Both targets run the plan of :mod:`glue_jobs.warehouse.plan` in one transaction and record what they loaded in
``etl_load_state``: the star build id under the target's name (:func:`load_warehouse`), the last scoring run under
``<target>:fact_customer_scores`` (:func:`load_scores`); a load of what is already recorded writes nothing. The two
loads are independent: the star load neither creates, drifts nor drops ``fact_customer_scores`` (not a star table,
its DDL is in ``glue_jobs/sql/scores``), and the score load touches only that table and its state row.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from glue_jobs.warehouse import plan
from glue_jobs.warehouse.sql_files import (
    SCORE_RUNS,
    SCORES_TABLE,
    STATE_TABLE,
    TableSpec,
    score_tables,
    star_tables,
    tables,
    views,
)
from lakehouse.core.config import Settings
from lakehouse.core.job_state import MANIFESTS, STAR_STATE
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.warehouse import WarehouseError

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DeltaFiles:
    """One table's delta in a star build: the Parquet files (URIs or local paths) and COPY manifest keys of the new
    and changed rows (``upsert``) and of the rows the build dropped (``gone``)."""

    upsert: list[str]
    gone: list[str]
    upsert_manifest: str
    gone_manifest: str


@dataclass
class LoadReport:
    """The outcome of :func:`load_warehouse`.

    ``version`` is the star build id loaded (or found already loaded); ``tables`` maps each star table to
    its row count after the load; ``statements`` counts the SQL statements run; ``skipped`` says why
    nothing was loaded; ``seconds`` is wall-clock time; ``mode`` 'delta' (the build's deltas merged into the
    previous build) or 'full' (every table staged whole).
    """

    target: str
    version: str | None = None
    tables: dict[str, int] = field(default_factory=dict)  # rows after the load
    views: list[str] = field(default_factory=list)
    statements: int = 0
    skipped: str | None = None
    seconds: float = 0.0
    mode: str | None = None  # 'delta' or 'full'

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)


class Target(Protocol):
    """A warehouse the star build can be loaded into (:class:`DuckDbTarget`, :class:`RedshiftTarget`)."""

    name: str

    def loaded_version(self, target: str | None = None) -> str | None:
        """The version recorded in ``etl_load_state`` for ``target`` (default: this target's name, whose version is
        the star build id), None before the first load."""
        ...

    def load(self, version: str, manifests: dict[str, list[str]], on_step: Callable[[str], None],
             delta: dict[str, DeltaFiles] | None = None, keys: Mapping[str, str] | None = None) -> int:
        """Load every star table and view in one transaction and record ``version``; returns statements run.
        ``keys`` maps each table to the lake key of its COPY manifest (:func:`manifest_keys`), for targets that
        COPY by manifest.

        ``manifests`` maps each star table to its Parquet files; ``delta`` (tables -> :class:`DeltaFiles`) loads
        those tables as deltas onto the previous build (a target whose tables drifted loads whole instead);
        ``on_step`` is called as each step (``tables``, a table name, ``views``, ``state``) begins. Rolls back and
        re-raises on any failure.
        """
        ...

    def load_scores(self, runs: Sequence[plan.ScoreRun], files: dict[str, list[str]],
                    on_step: Callable[[str], None]) -> int:
        """Load scoring ``runs`` (in order; ``files`` maps each run id to its Parquet files) into
        ``fact_customer_scores`` in one transaction and record the last run; returns statements run."""
        ...

    def row_counts(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Rows of the tables ``names`` (default: every star table) now in the warehouse."""
        ...


def _star_build(settings: Settings) -> dict[str, Any] | None:
    """The last committed star build record (``build_id``, ``as_of``, ...), None before the first build."""
    storage = LakeStorage(settings.lake, region=settings.region)
    if not storage.exists(STAR_STATE):
        return None
    return json.loads(storage.get_bytes(STAR_STATE))


def manifest_keys(settings: Settings) -> dict[str, str]:
    """Table -> the lake key of its COPY manifest in the latest committed star build: the keys its state names
    (``warehouse/_manifests/_star/<build_id>/<table>.json``), or ``warehouse/_manifests/<table>.json`` for a build
    whose state names none (written before manifests were keyed by build)."""
    named = (_star_build(settings) or {}).get("manifests") or {}
    return {name: named.get(name, f"{MANIFESTS}/{name}.json") for name in star_tables()}


def manifests(settings: Settings) -> dict[str, list[str]]:
    """Table -> the Parquet files (URIs or local paths) of the latest star build.

    Raises ``WarehouseError`` when a star table has no manifest (the star build has not run).
    """
    storage = LakeStorage(settings.lake, region=settings.region)
    found = {}
    for name, key in manifest_keys(settings).items():
        if not storage.exists(key):
            raise WarehouseError(f"the star build wrote no manifest for {name}; run the star build first")
        found[name] = [entry["url"] for entry in json.loads(storage.get_bytes(key))["entries"]]
    return found


class DuckDbTarget:
    """The local warehouse: an embedded DuckDB file, SQL transpiled from the Redshift dialect."""

    name = "duckdb"

    def __init__(self, path):
        self.path = path

    def _connect(self, read_only: bool = False):
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise WarehouseError(f"cannot open the local warehouse {self.path}: {exc}") from None

    def loaded_version(self, target: str | None = None) -> str | None:
        """The version recorded for ``target`` (default ``duckdb``: the star build id; ``duckdb:fact_customer_scores``:
        the last scoring run), None for a new file or before the first load."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                 [STATE_TABLE]).fetchone()[0]
            if not exists:
                return None
            row = con.execute(f"SELECT version FROM {STATE_TABLE} WHERE target = ?",
                              [target or self.name]).fetchone()
            return row[0] if row else None

    @staticmethod
    def _columns(con, names: list[str]) -> dict[str, list[str]]:
        """``table -> ['name TYPE', …]`` (in order) for the given tables that exist in ``con``."""
        rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position").fetchall()
        found: dict[str, list[str]] = {}
        for table, column, kind in rows:
            if table in names:
                found.setdefault(table, []).append(f"{column} {kind}")
        return found

    def drifted(self, con, specs: dict[str, TableSpec] | None = None) -> list[str]:
        """Tables in ``con`` whose columns (names, order, DuckDB types) differ from their DDL's (``specs``, default
        :func:`tables`: the star load's)."""
        import duckdb

        from lakehouse.core.warehouse.dialect import to_duckdb

        specs = tables() if specs is None else specs
        names = list(specs)
        with duckdb.connect(":memory:") as scratch:
            for spec in specs.values():
                for sql in to_duckdb(spec.ddl):
                    scratch.execute(sql)
            expected = self._columns(scratch, names)
        return plan.drifted_tables(self._columns(con, names), expected)

    def statements(self, version: str, files: dict[str, list[str]], drifted: Sequence[str] = (),
                   delta: dict[str, DeltaFiles] | None = None) -> list[tuple[str, str]]:
        """(step, DuckDB SQL) of the whole load; ``drifted`` tables (:meth:`drifted`) are dropped first; the
        tables of ``delta`` stage only their delta (:func:`plan.delta_statements`).

        Raises ``WarehouseError`` when a file is on ``s3://`` (DuckDB here reads a local lake only).
        """
        from lakehouse.core.warehouse.dialect import to_duckdb

        out: list[tuple[str, str]] = [("tables", plan.drop_table(name, cascade=False)) for name in drifted]
        out += [("tables", s) for spec in tables().values() for s in to_duckdb(spec.ddl)]
        delta = delta or {}
        for name, spec in star_tables().items():
            part = delta.get(name)
            out.append((name, self._stage(spec, part.upsert if part else files.get(name, []))))
            widths = width_check(spec)
            out += [(name, widths)] if widths else []
            out += [(name, s) for s in to_duckdb(plan.key_check(spec))]
            if part:
                gone = plan.gone_stage_name(name)
                out.append((name, self._stage(spec, part.gone, gone)))
                out += [(name, s) for sql in plan.delta_statements(spec) for s in to_duckdb(sql)]
                out.append((name, plan.drop_stage(spec, gone)))
            else:
                out += [(name, s) for sql in plan.merge_statements(spec) for s in to_duckdb(sql)]
            out.append((name, plan.drop_stage(spec)))
        out += [("views", s) for view in views() for sql in plan.view_statements(view) for s in to_duckdb(sql)]
        out += [("state", s) for sql in plan.state_statements(self.name, version) for s in to_duckdb(sql)]
        return out

    @staticmethod
    def _stage(spec: TableSpec, paths: Sequence[str], stage: str | None = None) -> str:
        """``CREATE OR REPLACE TEMP TABLE <stage> AS`` (default ``stage_<t>``) the rows of the local Parquet ``paths``
        (none: no rows).

        Raises ``WarehouseError`` for an ``s3://`` path (DuckDB here reads a local lake only). Hive partition folders
        in the paths (``cutoff_date=…``) are not read as columns: the files hold every column.
        """
        if any(p.startswith("s3://") for p in paths):
            raise WarehouseError("the local DuckDB warehouse loads from a local lake only (no httpfs offline); "
                                 "use the Redshift target for an s3:// lake")
        source = ("SELECT * FROM read_parquet([" + ", ".join(plan._quote(p) for p in paths) +
                  "], hive_partitioning = false)" if paths else f"SELECT * FROM {spec.name} LIMIT 0")
        return f"CREATE OR REPLACE TEMP TABLE {stage or plan.stage_name(spec.name)} AS {source}"

    def score_statements(self, runs: Sequence[plan.ScoreRun], files: dict[str, list[str]]) -> list[tuple[str, str]]:
        """(step, DuckDB SQL) of a score load: the state and score tables (created if missing), then per run (in
        order) its stage from ``files[run_id]``, the run, width and key checks, the DELETE of its cutoff's rows the
        run lacks, the MERGE; then the state row ``duckdb:fact_customer_scores`` = the last run."""
        from lakehouse.core.warehouse.dialect import to_duckdb

        spec = score_tables()[SCORES_TABLE]
        out = [("tables", s) for table in (tables()[STATE_TABLE], spec) for s in to_duckdb(table.ddl)]
        for run in runs:
            out.append((SCORES_TABLE, self._stage(spec, files.get(run.run_id, []))))
            widths = width_check(spec)
            out += [(SCORES_TABLE, widths)] if widths else []
            out += [(SCORES_TABLE, s) for sql in plan.score_statements(spec, run) for s in to_duckdb(sql)]
            out.append((SCORES_TABLE, plan.drop_stage(spec)))
        state = plan.scores_state_target(self.name, SCORES_TABLE)
        out += [("state", s) for sql in plan.state_statements(state, runs[-1].run_id) for s in to_duckdb(sql)]
        return out

    def load_scores(self, runs: Sequence[plan.ScoreRun], files: dict[str, list[str]],
                    on_step: Callable[[str], None]) -> int:
        """Run :meth:`score_statements` in one transaction; returns how many ran. Raises ``WarehouseError`` when
        ``fact_customer_scores`` exists with other columns than its DDL (it holds every cutoff's scores: it is not
        dropped, see :func:`load_scores`) and, rolling everything back, for a failed check or statement."""
        with self._connect() as con:
            drifted = self.drifted(con, score_tables())
            if drifted:
                raise WarehouseError(scores_drift_message(drifted))
            statements = self.score_statements(runs, files)
            self._run(con, statements, on_step)
        return len(statements)

    @staticmethod
    def _run(con, statements: Sequence[tuple[str, str]], on_step: Callable[[str], None]) -> None:
        """Run ``statements`` in one transaction on ``con``: a check that returns rows, or a failing statement,
        rolls back and raises ``WarehouseError`` with one line naming the step."""
        import duckdb

        con.execute("BEGIN TRANSACTION")
        step = "tables"
        try:
            current = None
            for step, sql in statements:
                if step != current:
                    on_step(step)
                    current = step
                if plan.is_check(sql):
                    problems = [row[0] for row in con.execute(sql).fetchall()]
                    if problems:
                        raise WarehouseError(plan.check_failure(step, problems))
                else:
                    con.execute(sql)
            con.execute("COMMIT")
        except WarehouseError:
            con.execute("ROLLBACK")
            raise
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(failure_line(step, exc)) from None

    def load(self, version: str, files: dict[str, list[str]], on_step: Callable[[str], None],
             delta: dict[str, DeltaFiles] | None = None, keys: Mapping[str, str] | None = None) -> int:
        """Run :meth:`statements` in one transaction (DuckDB reads ``files``, so ``keys`` is unused; ``delta``:
        those tables as deltas, unless a table drifted: then every table whole); returns how many ran.

        A check that finds problems (duplicate keys, text too long in bytes) or a failing statement (a value
        that does not convert, a NULL in a NOT NULL column) rolls everything back and raises ``WarehouseError``
        with one line naming the table; the file keeps its previous build and load state.
        """
        with self._connect() as con:
            drifted = self.drifted(con)
            statements = self.statements(version, files, drifted, None if drifted else delta)
            self._run(con, statements, on_step)
        return len(statements)

    def row_counts(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Rows of the tables ``names`` (default: every star table; opens the file read-only)."""
        with self._connect(read_only=True) as con:
            return {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                    for name in (star_tables() if names is None else names)}


class RedshiftTarget:
    """Redshift Serverless through ``redshift_connector``: COPY Parquet with an IAM role, MERGE, one transaction.

    Not executable without an AWS account: moto does not implement Redshift Serverless. The statements are
    unit-tested against our checker of Redshift's documented grammar (:mod:`glue_jobs.warehouse.grammar`);
    ``python -m glue_jobs.warehouse.smoke`` runs the load on a real workgroup (docs/warehouse-load.md).
    """

    name = "redshift"

    def __init__(self, settings: Settings, connect: Callable[[], Any] | None = None):
        self.settings = settings
        self._connect = connect or (lambda: redshift_connection(settings))

    @property
    def schema(self) -> str:
        """The Redshift schema every table and view lives in (``LAKEHOUSE_REDSHIFT__SCHEMA_NAME``)."""
        return self.settings.redshift.schema_name

    def statements(self, version: str, drifted: Sequence[str] = (), delta: dict[str, DeltaFiles] | None = None,
                   keys: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """(step, Redshift SQL) of the whole load; table names qualified with the configured schema; ``drifted``
        tables (:meth:`drifted`) are dropped with their views first; the tables of ``delta`` COPY only their delta's
        manifests and apply it (:func:`plan.delta_statements`), the others COPY the manifest ``keys`` names (table
        -> lake key, :func:`manifest_keys`; default ``warehouse/_manifests/<table>.json``).

        Raises ``WarehouseError`` without a COPY role (``LAKEHOUSE_REDSHIFT__COPY_ROLE_ARN``) or when the lake
        is not on S3.
        """
        role = self._copy_role()
        q = lambda sql: plan.qualify(sql, self.schema)  # noqa: E731
        out = [("tables", f"CREATE SCHEMA IF NOT EXISTS {self.schema}")]
        out += [("tables", q(plan.drop_table(name))) for name in drifted]
        out += [("tables", q(spec.ddl)) for spec in tables().values()]
        delta, keys = delta or {}, keys or {}
        for name, spec in star_tables().items():
            part = delta.get(name)
            key = part.upsert_manifest if part else keys.get(name, f"{MANIFESTS}/{name}.json")
            manifest = self.settings.lake.uri(key)
            create, copy = plan.redshift_stage_statements(spec, manifest, role)
            out += [(name, q(create)), (name, copy), (name, plan.key_check(spec))]
            if part:
                gone = plan.gone_stage_name(name)
                out += [(name, q(s)) for s in plan.redshift_stage_statements(
                    spec, self.settings.lake.uri(part.gone_manifest), role, gone)]
                out += [(name, q(sql)) for sql in plan.delta_statements(spec)]
                out.append((name, plan.drop_stage(spec, gone)))
            else:
                out += [(name, q(sql)) for sql in plan.merge_statements(spec)]
            out.append((name, plan.drop_stage(spec)))
        out += [("views", q(sql)) for view in views() for sql in plan.view_statements(view)]
        out += [("state", q(sql)) for sql in plan.state_statements(self.name, version)]
        return out

    def drifted(self, cursor, specs: dict[str, TableSpec] | None = None) -> list[str]:
        """Tables of the schema whose columns (names in order, and the byte length of each character column)
        differ from their DDL's (``specs``, default :func:`tables`: the star load's). Other types are not compared
        (Redshift reports its own type names); a change of one needs a column rename or a manual drop. A widened
        VARCHAR is a change: the star load recreates the table."""
        cursor.execute("SELECT table_name, column_name, character_maximum_length FROM information_schema.columns "
                       "WHERE table_schema = %s ORDER BY table_name, ordinal_position", (self.schema,))
        existing: dict[str, list[str]] = {}
        for table, column, length in cursor.fetchall():
            existing.setdefault(table, []).append(_sized(column, length))
        expected = {name: [_sized(column, _char_length(kind)) for column, kind in spec.columns]
                    for name, spec in (tables() if specs is None else specs).items()}
        return plan.drifted_tables(existing, expected)

    def loaded_version(self, target: str | None = None) -> str | None:
        """The version recorded for ``target`` (default ``redshift``: the star build id;
        ``redshift:fact_customer_scores``: the last scoring run), None before the first load."""
        con = self._connect()
        try:
            cursor = con.cursor()
            cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                           "AND table_name = %s", (self.schema, STATE_TABLE))
            if not cursor.fetchone()[0]:
                return None
            cursor.execute(f"SELECT version FROM {self.schema}.{STATE_TABLE} WHERE target = %s",
                           (target or self.name,))
            row = cursor.fetchone()
            return row[0] if row else None
        finally:
            con.close()

    def load(self, version: str, files: dict[str, list[str]], on_step: Callable[[str], None],
             delta: dict[str, DeltaFiles] | None = None, keys: Mapping[str, str] | None = None) -> int:
        """Run :meth:`statements` in one transaction (COPY reads the manifests ``keys`` names, so ``files`` is
        unused; ``delta``:
        those tables as deltas unless a table drifted); returns how many ran.

        A check that finds problems or any failing statement rolls everything back and raises
        ``WarehouseError`` with one line naming the table (for a failed COPY, the column and reason Redshift
        logged in ``sys_load_error_detail``); ``etl_load_state`` keeps the previous build, so the next load of a
        corrected build runs normally.
        """
        def build(cursor) -> list[tuple[str, str]]:
            drifted = self.drifted(cursor)
            return self.statements(version, drifted, None if drifted else delta, keys)

        return self._run(build, on_step)

    def _copy_role(self) -> str:
        """The IAM role COPY assumes; raises ``WarehouseError`` without one or when the lake is not on S3."""
        role = self.settings.redshift.copy_role_arn
        if not role:
            raise WarehouseError("set LAKEHOUSE_REDSHIFT__COPY_ROLE_ARN: Redshift COPY needs an IAM role")
        if not self.settings.lake.is_s3:
            raise WarehouseError("Redshift loads from S3: set LAKEHOUSE_LAKE_ROOT to the s3:// lake")
        return role

    def score_statements(self, runs: Sequence[plan.ScoreRun]) -> list[tuple[str, str]]:
        """(step, Redshift SQL) of a score load, table names qualified with the configured schema::

            CREATE SCHEMA IF NOT EXISTS; CREATE TABLE IF NOT EXISTS etl_load_state, fact_customer_scores
            per run, in order: CREATE TEMP TABLE stage (LIKE t); COPY … FORMAT AS PARQUET MANIFEST (the run's
              manifest); run check; key check; DELETE FROM t WHERE cutoff_date = <run's> AND NOT EXISTS (stage);
              MERGE INTO t USING stage ON (customer_id, cutoff_date); DROP TABLE stage
            DELETE/INSERT etl_load_state ('redshift:fact_customer_scores', the last run id)

        Raises ``WarehouseError`` without a COPY role or when the lake is not on S3.
        """
        role = self._copy_role()
        q = lambda sql: plan.qualify(sql, self.schema)  # noqa: E731
        spec = score_tables()[SCORES_TABLE]
        out = [("tables", f"CREATE SCHEMA IF NOT EXISTS {self.schema}")]
        out += [("tables", q(table.ddl)) for table in (tables()[STATE_TABLE], spec)]
        for run in runs:
            create, copy = plan.redshift_stage_statements(spec, self.settings.lake.uri(run.manifest), role)
            out += [(SCORES_TABLE, q(create)), (SCORES_TABLE, copy)]
            out += [(SCORES_TABLE, q(sql)) for sql in plan.score_statements(spec, run)]
            out.append((SCORES_TABLE, plan.drop_stage(spec)))
        state = plan.scores_state_target(self.name, SCORES_TABLE)
        out += [("state", q(sql)) for sql in plan.state_statements(state, runs[-1].run_id)]
        return out

    def load_scores(self, runs: Sequence[plan.ScoreRun], files: dict[str, list[str]],
                    on_step: Callable[[str], None]) -> int:
        """Run :meth:`score_statements` in one transaction (COPY reads the manifests: ``files`` is unused); returns
        how many ran. Raises ``WarehouseError`` when ``fact_customer_scores`` exists with other columns than its DDL,
        and, rolling back, for a failed check or statement."""
        def build(cursor) -> list[tuple[str, str]]:
            drifted = self.drifted(cursor, score_tables())
            if drifted:
                raise WarehouseError(scores_drift_message(drifted))
            return self.score_statements(runs)

        return self._run(build, on_step)

    def _run(self, build: Callable[[Any], list[tuple[str, str]]], on_step: Callable[[str], None]) -> int:
        """Run the statements ``build(cursor)`` gives in one transaction (autocommit off, one commit)."""
        con = self._connect()
        step, sql = "tables", ""
        try:
            con.autocommit = False
            cursor = con.cursor()
            statements = build(cursor)
            current = None
            for step, sql in statements:
                if step != current:
                    on_step(step)
                    current = step
                cursor.execute(sql)
                if plan.is_check(sql):
                    problems = [row[0] for row in cursor.fetchall() or ()]
                    if problems:
                        raise WarehouseError(plan.check_failure(step, problems))
            con.commit()
        except WarehouseError:
            con.rollback()
            raise
        except Exception as exc:
            con.rollback()
            detail = _load_error_detail(con) if sql.startswith("COPY ") else None
            raise WarehouseError(failure_line(step, exc, detail)) from None
        finally:
            con.close()
        return len(statements)

    def row_counts(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Rows of the tables ``names`` (default: every star table) in the configured schema."""
        con = self._connect()
        try:
            cursor = con.cursor()
            counts = {}
            for name in (star_tables() if names is None else names):
                cursor.execute(f"SELECT count(*) FROM {self.schema}.{name}")
                counts[name] = cursor.fetchone()[0]
            return counts
        finally:
            con.close()


def scores_drift_message(drifted: Sequence[str]) -> str:
    """The error of a score load that finds ``fact_customer_scores`` with other columns than its DDL."""
    return (f"{', '.join(drifted)} has other columns than glue_jobs/sql/scores/{drifted[0]}.sql; it holds the scores "
            "of every cutoff, so the load does not drop it: migrate it (ALTER TABLE), or drop it and run "
            "`lakehouse ml score` for the cutoffs to keep (their files stay in the lake under "
            f"warehouse/{SCORES_TABLE}/). Nothing was loaded")


def _char_length(kind: str) -> int | None:
    """n of a ``VARCHAR(n)``/``CHAR(n)`` type (bytes), None for other types."""
    size = re.fullmatch(r"N?(?:VAR)?CHAR\((\d+)\)", kind.upper().replace(" ", ""))
    return int(size[1]) if size else None


def _sized(column: str, length: int | None) -> str:
    return f"{column}({length})" if length is not None else column


#: the last COPY error Redshift logged for this user (SYS_LOAD_ERROR_DETAIL, Amazon Redshift Database Developer
#: Guide: "Use SYS_LOAD_ERROR_DETAIL to view details of COPY command errors"; regular users see their own rows)
LOAD_ERROR_QUERY = ("SELECT TRIM(column_name), TRIM(column_type), TRIM(error_message) FROM sys_load_error_detail "
                    "ORDER BY start_time DESC LIMIT 1")


def _load_error_detail(con) -> str | None:
    """``column city (varchar(512)): <reason>`` of the last failed COPY, None when Redshift cannot say."""
    try:
        cursor = con.cursor()
        cursor.execute(LOAD_ERROR_QUERY)
        row = cursor.fetchone()
    except Exception:  # a diagnosis only: the load error is reported either way
        return None
    if not row:
        return None
    column, kind, message = row
    return f"column {column} ({kind}): {message}"


def _driver_message(exc: BaseException) -> str:
    """The server's message of a driver error: redshift_connector passes the server's error fields as a dict
    (``M`` holds the message); DuckDB and others give text. First line only."""
    first = exc.args[0] if exc.args else exc
    if isinstance(first, dict):
        first = first.get("M") or first
    text = str(first).strip() or type(exc).__name__
    return text.splitlines()[0]


def failure_line(step: str, exc: BaseException, detail: str | None = None) -> str:
    """One readable line for a statement that failed at ``step`` (a table name, ``tables``, ``views`` or
    ``state``), with ``detail`` (e.g. the column of a failed COPY) when known."""
    where = f"loading {step}" if step in star_tables() or step in score_tables() else f"the load's {step} step"
    reason = _driver_message(exc) + (f"; {detail}" if detail else "")
    return f"{where} failed: {reason}. {plan.NOTHING_LOADED}"


def width_check(spec) -> str | None:
    """A DuckDB query giving one line per stage value longer in bytes than its Redshift column holds (at most
    :data:`plan.SHOWN`), e.g. ``city: 530 bytes, more than VARCHAR(512) holds (customer_key=7)``.

    Redshift ``VARCHAR(n)`` and ``CHAR(n)`` count bytes, not characters (Amazon Redshift Database Developer
    Guide, "Character types": "CHAR and VARCHAR data types are defined in terms of bytes, not characters"), and
    its COPY fails on a longer value; DuckDB's VARCHAR has no length, so the local load checks it here (``strlen``
    counts UTF-8 bytes in DuckDB). None for a table without sized text columns.
    """
    stage, key = plan.stage_name(spec.name), plan.key_text(spec)
    parts = []
    for column, kind in spec.columns:
        size = _char_length(kind)
        if size is not None:
            parts.append(f"SELECT '{column}: ' || CAST(strlen({column}) AS VARCHAR) || ' bytes, more than {kind} "
                         f"holds (' || {key} || ')' AS problem FROM {stage} WHERE strlen({column}) > {size}")
    if not parts:
        return None
    return f"SELECT problem FROM ({' UNION ALL '.join(parts)}) AS problems ORDER BY 1 LIMIT {plan.SHOWN}"


def redshift_connection(settings: Settings):
    """A ``redshift_connector`` connection: user/password (or a Secrets Manager secret) or IAM to a workgroup."""
    import redshift_connector

    from lakehouse.core.aws.clients import aws_client

    rs = settings.redshift
    user, password = rs.user, rs.password.get_secret_value() if rs.password else None
    if rs.secret_arn:
        secret = json.loads(aws_client("secretsmanager", region=settings.region)
                            .get_secret_value(SecretId=rs.secret_arn)["SecretString"])
        user, password = secret.get("username", user), secret.get("password", password)
    if rs.host and user and password:
        return redshift_connector.connect(host=rs.host, port=rs.port, database=rs.database, user=user,
                                          password=password)
    workgroup = rs.workgroup or settings.names.redshift_workgroup
    return redshift_connector.connect(iam=True, is_serverless=True, serverless_work_group=workgroup,
                                      database=rs.database, region=settings.region, host=rs.host)


def target_for(settings: Settings, name: str | None = None) -> Target:
    """The warehouse named ``name`` ('duckdb' or 'redshift'; default ``settings.warehouse_target``).

    Raises ``WarehouseError`` for any other name.
    """
    chosen = name or settings.warehouse_target
    if chosen == "duckdb":
        return DuckDbTarget(settings.warehouse_path)
    if chosen == "redshift":
        return RedshiftTarget(settings)
    raise WarehouseError(f"unknown warehouse target {chosen!r} (duckdb or redshift)")


def delta_files(settings: Settings, build: dict[str, Any]) -> dict[str, DeltaFiles]:
    """Table -> :class:`DeltaFiles` of an incremental star build (its ``delta`` record); empty for a full build."""
    storage = LakeStorage(settings.lake, region=settings.region)
    out = {}
    for table, record in (build.get("delta") or {}).items():
        entries = {part: [e["url"] for e in json.loads(storage.get_bytes(record[part]))["entries"]]
                   for part in ("upsert", "gone")}
        out[table] = DeltaFiles(entries["upsert"], entries["gone"], record["upsert"], record["gone"])
    return out


def load_warehouse(settings: Settings, *, target: Target | None = None, force: bool = False, full: bool = False,
                   on_progress: Progress | None = None) -> LoadReport:
    """Load the latest star build into ``target`` (default: ``settings.warehouse_target``).

    Skipped (``report.skipped`` says why) before the first star build, or when the target already holds this
    build and not ``force`` or ``full``. Every warehouse table is keyed as its DDL's PRIMARY KEY declares
    (``glue_jobs/sql/ddl/``). When the build is incremental and the target holds the build it started from (and
    not ``full`` or ``force``), the big tables load as deltas: the rows the build dropped are deleted by key and
    its new and changed rows MERGEd; otherwise every table loads whole: rows the build no longer has are
    deleted, the rest MERGEd on that key.
    Raises ``WarehouseError`` for a missing manifest or an unusable target; a failed statement rolls the
    whole load back and its error propagates.
    """
    started = time.monotonic()
    target = target or target_for(settings)
    report = LoadReport(target=target.name)
    build = _star_build(settings)
    if build is None:
        report.skipped = "no star build yet"
        return report
    report.version = build["build_id"]
    loaded = target.loaded_version()
    if not (force or full) and loaded == report.version:
        report.skipped = f"{target.name} already holds star build {report.version}"
        return report
    incremental = not (force or full) and loaded is not None and loaded == build.get("base_build_id")
    delta = delta_files(settings, build) if incremental else {}
    report.mode = "delta" if delta else "full"
    steps = ["tables", *star_tables(), "views", "state"]

    def on_step(step: str) -> None:
        if on_progress:
            on_progress(step, steps.index(step) if step in steps else 0, len(steps))

    files = manifests(settings)
    report.statements = target.load(report.version, files, on_step, delta or None, manifest_keys(settings))
    report.tables = target.row_counts()
    report.views = [v.name for v in views()]
    report.seconds = time.monotonic() - started
    if on_progress:
        on_progress("done", len(steps), len(steps))
    return report


def score_runs(settings: Settings) -> list[plan.ScoreRun]:
    """Every committed scoring run (a record under ``state/score/runs/``, written by ml/serving.py after its Parquet
    file and COPY manifest), ordered by run id (run ids sort in time order)."""
    storage = LakeStorage(settings.lake, region=settings.region)
    runs = []
    for obj in storage.list(SCORE_RUNS):
        if obj.key.endswith(".json"):
            record = json.loads(storage.get_bytes(obj.key))
            runs.append(plan.ScoreRun(record["run_id"], record["cutoff_date"], record["manifest"],
                                      int(record.get("rows", 0))))
    return sorted(runs, key=lambda r: r.run_id)


def runs_to_load(runs: Sequence[plan.ScoreRun], loaded: str | None, force: bool = False) -> list[plan.ScoreRun]:
    """The runs a score load applies, in run order: those after the ``loaded`` run (all before the first load; with
    ``force`` the latest run again), keeping only the last run of each cutoff (a later run of a cutoff replaces an
    earlier one's rows entirely, so loading the earlier one first would change nothing)."""
    pending = [r for r in runs if loaded is None or r.run_id > loaded]
    if force and runs and not pending:
        pending = [runs[-1]]
    last = {r.cutoff_date: r for r in pending}
    return sorted(last.values(), key=lambda r: r.run_id)


def load_scores(settings: Settings, *, target: Target | None = None, force: bool = False,
                on_progress: Progress | None = None) -> LoadReport:
    """Load the scoring runs written since the last score load into ``fact_customer_scores`` (default target:
    ``settings.warehouse_target``), in one transaction.

    Grain and key of the table: one row per (customer_id, cutoff_date). Each run replaces exactly its cutoff's rows
    (rows of customers it no longer scores are deleted, the rest MERGEd); other cutoffs are kept. The last run loaded
    is recorded in ``etl_load_state`` under ``<target>:fact_customer_scores``; loading again with no newer run is
    skipped (``report.skipped``), and ``force`` reloads the latest run, which leaves the same rows. The star load
    never touches this table. Raises ``WarehouseError`` for a missing manifest, a table whose columns differ from
    its DDL, a run whose files hold another run's or cutoff's rows, duplicate keys, or any failed statement (the
    load rolls back; the state keeps the previous run, so the next load retries).
    """
    started = time.monotonic()
    target = target or target_for(settings)
    report = LoadReport(target=target.name)
    runs = score_runs(settings)
    if not runs:
        report.skipped = "no scoring run yet"
        return report
    state = plan.scores_state_target(target.name, SCORES_TABLE)
    loaded = target.loaded_version(state)
    chosen = runs_to_load(runs, loaded, force)
    if not chosen:
        report.version = loaded
        report.skipped = f"{target.name} already holds scoring run {loaded}"
        return report
    report.version = chosen[-1].run_id
    storage = LakeStorage(settings.lake, region=settings.region)
    files: dict[str, list[str]] = {}
    for run in chosen:
        if not storage.exists(run.manifest):
            raise WarehouseError(f"scoring run {run.run_id} has no manifest {run.manifest}; score again")
        files[run.run_id] = [entry["url"] for entry in json.loads(storage.get_bytes(run.manifest))["entries"]]
    steps = ["tables", SCORES_TABLE, "state"]

    def on_step(step: str) -> None:
        if on_progress:
            on_progress(step, steps.index(step), len(steps))

    report.statements = target.load_scores(chosen, files, on_step)
    report.tables = target.row_counts([SCORES_TABLE])
    report.seconds = time.monotonic() - started
    if on_progress:
        on_progress("done", len(steps), len(steps))
    return report
