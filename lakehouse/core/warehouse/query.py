"""The warehouse query layer: one read-only query on the local DuckDB file or on Redshift.

:func:`run_warehouse_query` is what every reader uses (``lakehouse sql``, the dashboard): it runs on the
warehouse ``settings.warehouse_target`` names — the embedded DuckDB file (opened read-only) or Redshift
(``redshift_connector``, in a ``READ ONLY`` transaction that is rolled back) — and answers a :class:`QueryResult`.
Every failure is a :class:`~lakehouse.core.warehouse.WarehouseError` whose message a user can act on.
:func:`run_query` is the DuckDB half, for callers that hold a file path.

SQL and dialects: DuckDB reads DuckDB SQL, or Redshift SQL transpiled first (``dialect='redshift'``; see
:mod:`lakehouse.core.warehouse.dialect`). Redshift always receives the SQL as it was given (the dashboard writes
its SQL in the subset both engines read the same way, :mod:`lakehouse.core.metrics.sql`).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lakehouse.core.warehouse import WarehouseError

if TYPE_CHECKING:
    from lakehouse.core.config import Settings

Dialect = Literal["duckdb", "redshift"]

#: seconds to wait for Redshift to connect and for each answer (a paused Serverless workgroup resumes in seconds)
REDSHIFT_TIMEOUT_SECONDS = 120
#: a schema name put in ``search_path`` unquoted (Redshift folds it to lower case, as the loader's DDL does)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


@dataclass(frozen=True)
class QueryResult:
    """A query's column names and rows (at most the ``limit`` asked for).

    ``rows`` are tuples in column order holding the driver's Python values (``int``, ``float``,
    ``decimal.Decimal`` for DECIMAL/NUMERIC, ``str``, ``bool``, ``datetime.date``/``datetime``, ``None`` for NULL).
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows existed than were fetched


def warehouse_schema(con: Any) -> dict[str, dict[str, str]]:
    """``{table or view: {column: DuckDB type}}`` of an open DuckDB connection (first schema wins a name)."""
    schema: dict[str, dict[str, str]] = {}
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "ORDER BY table_schema <> 'main', table_schema, table_name, ordinal_position").fetchall()
    for table, column, dtype in rows:
        schema.setdefault(table, {}).setdefault(column, dtype)
    return schema


def run_warehouse_query(settings: Settings, sql: str, *, limit: int | None = None,
                        dialect: Dialect = "duckdb") -> QueryResult:
    """Run one read-only query on the configured warehouse and return its columns and rows.

    Parameters
    ----------
    settings
        ``warehouse_target`` chooses the engine: ``duckdb`` reads ``settings.warehouse_path``; ``redshift``
        connects to ``settings.redshift`` (host, port, database; user/password, or ``secret_arn``: a Secrets
        Manager secret whose JSON holds ``username`` and ``password``) with ``search_path`` set to
        ``settings.redshift.schema_name``.
    sql
        One statement. On DuckDB in ``dialect`` (``redshift``: transpiled first); on Redshift sent unchanged.
    limit
        At most this many rows (``truncated`` then says whether more existed); ``None``: every row.

    Returns
    -------
    QueryResult
        No columns and no rows for a statement that returns none.

    Raises
    ------
    WarehouseError
        The warehouse is missing or unreachable, the login or secret is refused, or the SQL fails — one line
        saying which, with the engine's own message.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must be None or >= 0")
    if settings.warehouse_target == "redshift":
        return _run_on_redshift(settings, sql, limit=limit)
    return run_query(settings.warehouse_path, sql, limit=limit, dialect=dialect)


def run_query(path: Path, sql: str, *, limit: int | None = 100, dialect: Dialect = "duckdb") -> QueryResult:
    """Run one query on the local warehouse file at ``path`` (read-only); ``dialect='redshift'`` transpiles it.

    A Redshift query is transpiled with the warehouse's column types, so that it gets Redshift's answers
    (integer division, AVG, TRUNC, ... — see :mod:`lakehouse.core.warehouse.dialect`). Raises
    :class:`WarehouseError` with DuckDB's message for bad SQL or a missing warehouse, and naming the function
    for Redshift SQL that cannot be translated faithfully (refused by the translation, or a function DuckDB
    does not know or cannot bind: "<FUNC> is not translated for DuckDB"). A Redshift query's columns carry the
    names Redshift gives them (:func:`~lakehouse.core.warehouse.dialect.column_names`) where they can be told.
    ``limit=None`` fetches every row. Several statements raise :class:`WarehouseError` (DuckDB would run them all
    and answer with the last one's result only).
    """
    import duckdb
    import sqlglot

    names = None
    if not sql.strip():
        raise WarehouseError("the query is empty")
    if not path.exists():
        raise WarehouseError(f"no local warehouse at {path}; build it with `lakehouse batch` (or `make demo`)")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            if (statements := len(con.extract_statements(sql))) > 1:  # DuckDB would run all, answer the last
                raise WarehouseError(f"one statement at a time: the query holds {statements}")
            if dialect == "redshift":
                from lakehouse.core.warehouse.dialect import column_names

                names = column_names(sql)
                sql = _transpile(sql, warehouse_schema(con), sqlglot)
            cursor = con.execute(sql)
            if cursor.description is None:
                return QueryResult([], [], False)
            columns = [d[0] for d in cursor.description]
            if names is not None and len(names) == len(columns):
                columns = names  # Redshift's names, not the translated DuckDB expressions
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if dialect == "redshift":
            message = _untranslated_function(message) or message
        raise WarehouseError(message) from None
    return _limited(columns, rows, limit)


def _limited(columns: list[str], rows: list[tuple[Any, ...]], limit: int | None) -> QueryResult:
    """``rows`` cut to ``limit`` (fetched: up to ``limit + 1``, the extra one telling that more exist)."""
    if limit is None:
        return QueryResult(columns, [tuple(r) for r in rows], False)
    return QueryResult(columns, [tuple(r) for r in rows[:limit]], len(rows) > limit)


_FUNCTION_ERRORS = (r'Scalar Function with name (\w+) does not exist',
                    r'function call "(\w+)\(',
                    r"No function matches the given name and argument types '(\w+)\(",
                    r'(?:Table|Aggregate) Function with name (\w+) does not exist')


def _untranslated_function(message: str) -> str | None:
    """DuckDB's binder/catalog error on a function name, re-worded as a function not translated."""
    if not message.startswith(("Binder Error", "Catalog Error")):
        return None
    for pattern in _FUNCTION_ERRORS:
        match = re.search(pattern, message)
        if match:
            return (f"{match.group(1).upper()} is not translated for DuckDB (docs/batch.md lists what is); "
                    f"DuckDB said: {message}")
    return None


def _transpile(sql: str, schema: dict[str, dict[str, str]], sqlglot: Any) -> str:
    from lakehouse.core.warehouse.dialect import UntranslatableSql, to_duckdb

    try:
        statements = to_duckdb(sql, schema)
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"not valid Redshift SQL: {str(exc).splitlines()[0]}") from None
    except UntranslatableSql as exc:
        raise WarehouseError(f"not translated to DuckDB: {exc}") from None
    if len(statements) != 1:
        raise WarehouseError("run one statement at a time")
    return statements[0]


# --- Redshift ------------------------------------------------------------------------------------------------
def _run_on_redshift(settings: Settings, sql: str, *, limit: int | None) -> QueryResult:
    """The query on Redshift in a ``BEGIN READ ONLY`` transaction that is rolled back (Amazon Redshift Database
    Developer Guide, "BEGIN": ``READ ONLY`` gives the transaction read-only permission), so that nothing it runs
    changes the warehouse, as DuckDB's read-only connection guarantees locally."""
    import redshift_connector

    if not sql.strip():
        raise WarehouseError("the query is empty")
    schema = settings.redshift.schema_name
    if not _IDENTIFIER.match(schema):
        raise WarehouseError(f"LAKEHOUSE_REDSHIFT__SCHEMA_NAME {schema!r} is not a plain SQL identifier")
    con = redshift_connect(settings)
    try:
        con.autocommit = True  # the transaction below is ours: the driver must not open one first
        cursor = con.cursor()
        cursor.execute("BEGIN READ ONLY")
        cursor.execute(f"SET search_path TO {schema}")
        cursor.execute(sql)
        if not cursor.description:
            return QueryResult([], [], False)
        columns = [_text(d[0]) for d in cursor.description]
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
        return _limited(columns, list(rows or []), limit)
    except redshift_connector.Error as exc:
        raise WarehouseError(redshift_message(exc, settings)) from None
    finally:
        _close_quietly(con)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _close_quietly(con: Any) -> None:
    """Roll back (ending the read-only transaction) and close; a connection already broken is left as it is."""
    with contextlib.suppress(Exception):  # the connection may be broken already: the query's error is reported
        con.rollback()
    with contextlib.suppress(Exception):
        con.close()


def redshift_credentials(settings: Settings) -> tuple[str, str]:
    """``(user, password)`` for Redshift: ``settings.redshift.user``/``password``, or the Secrets Manager secret
    ``secret_arn`` (JSON with ``username`` and ``password``, the shape of the warehouse stack's admin secret);
    values from the secret win.

    Raises
    ------
    WarehouseError
        The secret cannot be read (not found, access denied, no endpoint) or lacks a field, or no credentials
        are configured at all.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from lakehouse.core.aws.clients import aws_client

    rs = settings.redshift
    user, password = rs.user, rs.password.get_secret_value() if rs.password else None
    if rs.secret_arn:
        try:
            text = aws_client("secretsmanager", region=settings.region).get_secret_value(
                SecretId=rs.secret_arn)["SecretString"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise WarehouseError(f"cannot read the Redshift secret {rs.secret_arn}: {error.get('Code')}: "
                                 f"{error.get('Message')} (LAKEHOUSE_REDSHIFT__SECRET_ARN)") from None
        except BotoCoreError as exc:
            raise WarehouseError(f"cannot read the Redshift secret {rs.secret_arn}: {exc}") from None
        try:
            secret = json.loads(text)
        except ValueError:
            secret = None
        if not isinstance(secret, dict):
            raise WarehouseError(f"the Redshift secret {rs.secret_arn} is not a JSON object "
                                 "with username and password") from None
        user, password = secret.get("username", user), secret.get("password", password)
    if not user or not password:
        missing = " and ".join(n for n, v in (("a user", user), ("a password", password)) if not v)
        raise WarehouseError(f"Redshift needs {missing}: set LAKEHOUSE_REDSHIFT__USER and "
                             "LAKEHOUSE_REDSHIFT__PASSWORD, or LAKEHOUSE_REDSHIFT__SECRET_ARN")
    return str(user), str(password)


def redshift_connect(settings: Settings, *, timeout_seconds: int = REDSHIFT_TIMEOUT_SECONDS) -> Any:
    """An open ``redshift_connector`` connection to ``settings.redshift`` (TLS, the driver's default).

    ``timeout_seconds`` bounds the connection and every later wait for the server. Raises
    :class:`WarehouseError` without a host, without credentials (:func:`redshift_credentials`), and when the
    server is unreachable or refuses the login (:func:`redshift_message`).
    """
    import redshift_connector

    rs = settings.redshift
    if not rs.host:
        raise WarehouseError("no Redshift host: set LAKEHOUSE_REDSHIFT__HOST to the workgroup endpoint (the "
                             "warehouse stack's output WorkgroupEndpoint), or query the local warehouse with "
                             "LAKEHOUSE_WAREHOUSE_TARGET=duckdb")
    user, password = redshift_credentials(settings)
    try:
        return redshift_connector.connect(host=rs.host, port=rs.port, database=rs.database, user=user,
                                          password=password, timeout=timeout_seconds,
                                          application_name="lakehouse")
    except redshift_connector.Error as exc:
        raise WarehouseError(redshift_message(exc, settings, user=user)) from None


def redshift_message(exc: BaseException, settings: Settings, *, user: str | None = None) -> str:
    """One readable line for a ``redshift_connector`` error.

    The driver raises ``InterfaceError('communication error', <OSError>)`` when the socket fails (refused,
    unknown host), ``OperationalError('connection time out', …)`` on a timeout, ``InterfaceError('Server
    refuses SSL')`` when the server answers the SSL request with anything but ``S``, and the server's
    ErrorResponse fields as a dict (``C``: SQLSTATE, ``M``: message; ``InterfaceError`` for ``28000``, an
    invalid authorization, ``ProgrammingError`` otherwise: ``redshift_connector.core.handle_ERROR_RESPONSE``).
    """
    rs = settings.redshift
    where = f"{rs.host}:{rs.port}"
    args = exc.args
    first = args[0] if args else None
    cause = args[1] if len(args) > 1 else None
    if isinstance(first, dict):
        code, message = first.get("C", ""), str(first.get("M", "")).strip() or type(exc).__name__
        if code == "28000" or code.startswith("28"):
            return (f"Redshift at {where} refused the login of user {user or rs.user or '?'}: {message} "
                    "(check LAKEHOUSE_REDSHIFT__USER/PASSWORD or the secret LAKEHOUSE_REDSHIFT__SECRET_ARN)")
        if code == "3D000":
            return f"Redshift at {where}: {message} (LAKEHOUSE_REDSHIFT__DATABASE)"
        return f"Redshift: {message}" + (f" (SQLSTATE {code})" if code else "")
    if first == "connection time out" or isinstance(cause, TimeoutError):
        return (f"Redshift at {where} did not answer in time; is the workgroup reachable from here "
                "(VPC, security group, public access)?")
    if first == "Server refuses SSL":
        return f"the server at {where} refused TLS: is LAKEHOUSE_REDSHIFT__HOST/PORT a Redshift endpoint?"
    if isinstance(cause, ConnectionRefusedError):
        return (f"cannot connect to Redshift at {where}: connection refused; check LAKEHOUSE_REDSHIFT__HOST and "
                "__PORT (the workgroup endpoint) and that it accepts connections from here")
    if isinstance(cause, OSError):
        reason = cause.strerror or str(cause)
        return f"cannot connect to Redshift at {where}: {reason}; check LAKEHOUSE_REDSHIFT__HOST and __PORT"
    text = str(first if first is not None else exc).strip() or type(exc).__name__
    return f"Redshift: {text.splitlines()[0]}"
