"""`run_warehouse_query`: the engine the settings name, every row on request, and Redshift's failures in words.

No Redshift exists here. What runs for real: the DuckDB path; the Redshift path up to the network (no host, no
credentials, nothing listening, a server that is not Redshift, one that never answers); the secret lookup on the
session's moto Secrets Manager. The server's own error messages (login refused, bad SQL) are built by the driver's
own ErrorResponse handler from wire-format fields, then worded by `redshift_message`. Not checked: the read-only
transaction and search_path on a real workgroup (smoke step in the report / README text).
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace

import duckdb
import pytest
import redshift_connector
from redshift_connector.core import Connection

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import RedshiftSettings, Settings
from lakehouse.core.warehouse import WarehouseError
from lakehouse.core.warehouse.query import (
    redshift_connect,
    redshift_credentials,
    redshift_message,
    run_warehouse_query,
)


@pytest.fixture
def local(tmp_path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS n, CAST(range AS DECIMAL(12, 2)) / 4 AS q FROM range(250)")
    return settings


def redshift(**fields) -> Settings:
    return Settings(warehouse_target="redshift", redshift=RedshiftSettings(**fields))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_server() -> Iterator[callable]:
    """A TCP server on 127.0.0.1 that answers every connection with ``reply`` bytes (or nothing), then waits."""
    servers = []

    def start(reply: bytes | None) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stop = threading.Event()

        def serve() -> None:
            listener.settimeout(0.2)
            held = []
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                held.append(conn)
                conn.recv(8)  # the SSLRequest: Int32(8), Int32(80877103)
                if reply is not None:
                    conn.sendall(reply)
            for conn in held:
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((listener, stop, thread))
        return listener.getsockname()[1]

    yield start
    for listener, stop, thread in servers:
        stop.set()
        thread.join(5)
        listener.close()


# --- DuckDB ---------------------------------------------------------------------------------------------------
def test_duckdb_is_the_default_engine_and_limit_none_means_every_row(local: Settings) -> None:
    everything = run_warehouse_query(local, "SELECT n, q FROM t ORDER BY n")
    assert len(everything.rows) == 250 and not everything.truncated
    assert everything.rows[9] == (9, Decimal("2.25"))  # 9 / 4, DECIMAL kept exact
    first = run_warehouse_query(local, "SELECT n FROM t ORDER BY n", limit=3)
    assert first.rows == [(0,), (1,), (2,)] and first.truncated
    exact = run_warehouse_query(local, "SELECT n FROM t WHERE n < 3", limit=3)
    assert len(exact.rows) == 3 and not exact.truncated


def test_duckdb_reads_redshift_sql_through_the_translation(local: Settings) -> None:
    result = run_warehouse_query(local, "SELECT MAX(n) / 100 AS hundreds FROM t", dialect="redshift")
    assert result.rows == [(2,)]  # Redshift's integer division: 249 / 100 = 2


def test_one_statement_at_a_time(local: Settings) -> None:
    """Seen before: ``SELECT 1; SELECT n FROM t`` ran both and showed the second's rows only, as if one query."""
    with pytest.raises(WarehouseError, match="one statement at a time: the query holds 2"):
        run_warehouse_query(local, "SELECT COUNT(*) FROM t; SELECT n FROM t")
    assert run_warehouse_query(local, "SELECT COUNT(*) FROM t;").rows == [(250,)]  # a closing semicolon is fine


def test_duckdb_missing_warehouse_says_how_to_build_it(tmp_path) -> None:
    with pytest.raises(WarehouseError, match="lakehouse batch"):
        run_warehouse_query(Settings(home=tmp_path), "SELECT 1")


# --- Redshift: configuration and network ------------------------------------------------------------------------
def test_redshift_without_a_host_names_the_setting() -> None:
    with pytest.raises(WarehouseError, match="LAKEHOUSE_REDSHIFT__HOST"):
        run_warehouse_query(redshift(user="u", password="p"), "SELECT 1")


def test_redshift_without_credentials_names_the_settings() -> None:
    with pytest.raises(WarehouseError, match=r"needs a user and a password.*SECRET_ARN"):
        run_warehouse_query(redshift(host="127.0.0.1"), "SELECT 1")
    with pytest.raises(WarehouseError, match="needs a password"):
        run_warehouse_query(redshift(host="127.0.0.1", user="u"), "SELECT 1")


def test_redshift_schema_must_be_an_identifier() -> None:
    """Seen failing without the check: the schema went into `SET search_path TO …` as typed."""
    with pytest.raises(WarehouseError, match="not a plain SQL identifier"):
        run_warehouse_query(redshift(host="127.0.0.1", user="u", password="p", schema_name="x; DROP TABLE y"),
                            "SELECT 1")


def test_redshift_nothing_listening_is_connection_refused() -> None:
    port = free_port()
    with pytest.raises(WarehouseError) as caught:
        run_warehouse_query(redshift(host="127.0.0.1", port=port, user="u", password="p"), "SELECT 1")
    message = str(caught.value)
    assert f"cannot connect to Redshift at 127.0.0.1:{port}: connection refused" in message
    assert "LAKEHOUSE_REDSHIFT__HOST" in message


def test_redshift_unknown_host_is_named() -> None:
    with pytest.raises(WarehouseError, match=r"cannot connect to Redshift at nowhere\.invalid:5439: .*HOST"):
        run_warehouse_query(redshift(host="nowhere.invalid", user="u", password="p"), "SELECT 1")


def test_a_server_that_is_not_redshift_refuses_tls(fake_server) -> None:
    """A plain PostgreSQL without TLS answers the SSL request with 'N'."""
    port = fake_server(b"N")
    with pytest.raises(WarehouseError, match=f"server at 127.0.0.1:{port} refused TLS"):
        run_warehouse_query(redshift(host="127.0.0.1", port=port, user="u", password="p"), "SELECT 1")


def test_a_silent_server_times_out(fake_server) -> None:
    """A dropped route (VPC, security group) never answers: the timeout ends the wait with a hint."""
    port = fake_server(None)
    with pytest.raises(WarehouseError, match=r"did not answer in time.*security group"):
        redshift_connect(redshift(host="127.0.0.1", port=port, user="u", password="p"), timeout_seconds=1)


# --- Redshift: the server's messages, as the driver builds them ---------------------------------------------
def driver_error(**fields: str) -> Exception:
    """The exception redshift_connector raises for an ErrorResponse with these fields (its own handler)."""
    data = b"".join(k.encode() + v.encode() + b"\x00" for k, v in fields.items()) + b"\x00"
    holder = SimpleNamespace()
    Connection.handle_ERROR_RESPONSE(holder, data, None)
    return holder.error


def test_a_refused_login_names_the_user_and_the_settings() -> None:
    error = driver_error(S="FATAL", C="28000", M='password authentication failed for user "analyst"')
    assert isinstance(error, redshift_connector.InterfaceError)
    message = redshift_message(error, redshift(host="wg.example", user="analyst"), user="analyst")
    assert message.startswith("Redshift at wg.example:5439 refused the login of user analyst: password "
                              'authentication failed for user "analyst"')
    assert "LAKEHOUSE_REDSHIFT__SECRET_ARN" in message


def test_a_sql_error_keeps_the_servers_message_and_code() -> None:
    error = driver_error(S="ERROR", C="42P01", M='relation "no_such_table" does not exist')
    assert isinstance(error, redshift_connector.ProgrammingError)
    assert redshift_message(error, redshift(host="h")) == \
        'Redshift: relation "no_such_table" does not exist (SQLSTATE 42P01)'


def test_an_unknown_database_names_the_setting() -> None:
    error = driver_error(S="FATAL", C="3D000", M='database "nope" does not exist')
    assert "LAKEHOUSE_REDSHIFT__DATABASE" in redshift_message(error, redshift(host="h", database="nope"))


# --- Redshift: the secret on Secrets Manager (moto) --------------------------------------------------------------
def test_credentials_come_from_the_secret(moto_endpoint: str) -> None:
    client = aws_client("secretsmanager", region="us-east-1")
    arn = client.create_secret(Name=f"rs-{uuid.uuid4().hex[:8]}",
                               SecretString=json.dumps({"username": "admin", "password": "s3cret"}))["ARN"]
    settings = Settings(region="us-east-1", redshift=RedshiftSettings(host="h", user="ignored", secret_arn=arn))
    assert redshift_credentials(settings) == ("admin", "s3cret")

    port = free_port()  # the secret was read: the failure is now the network's, not the credentials'
    with pytest.raises(WarehouseError, match="connection refused"):
        run_warehouse_query(Settings(region="us-east-1", warehouse_target="redshift", redshift=RedshiftSettings(
            host="127.0.0.1", port=port, secret_arn=arn)), "SELECT 1")


def test_a_missing_or_malformed_secret_is_named(moto_endpoint: str) -> None:
    client = aws_client("secretsmanager", region="us-east-1")
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nothing-here-AbCdEf"
    with pytest.raises(WarehouseError, match=f"cannot read the Redshift secret {missing}: ResourceNotFoundException"):
        redshift_credentials(Settings(region="us-east-1", redshift=RedshiftSettings(secret_arn=missing)))
    plain = client.create_secret(Name=f"rs-{uuid.uuid4().hex[:8]}", SecretString="hunter2")["ARN"]
    with pytest.raises(WarehouseError, match="not a JSON object"):
        redshift_credentials(Settings(region="us-east-1", redshift=RedshiftSettings(secret_arn=plain)))
    no_password = client.create_secret(Name=f"rs-{uuid.uuid4().hex[:8]}",
                                       SecretString=json.dumps({"username": "admin"}))["ARN"]
    with pytest.raises(WarehouseError, match="needs a password"):
        redshift_credentials(Settings(region="us-east-1", redshift=RedshiftSettings(secret_arn=no_password)))
