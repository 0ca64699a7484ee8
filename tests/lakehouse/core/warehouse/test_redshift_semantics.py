"""`lakehouse sql --redshift` gives the answers Amazon Redshift's documentation states, on a real DuckDB.

Each row of :data:`CASES` is (Redshift SQL, the result the Amazon Redshift Database Developer Guide states,
the page that states it). Most rows are the page's own example; rows marked "rule" apply the page's stated rule
to a value of ours. The SQL runs through :func:`to_duckdb` with the column types of a small TICKIT-like fixture
(``sales``, ``winsales``) — the tables the guide's examples read.

Measured before the fix: run against main's dialect.py before this change (sqlglot 30.30 plus the
physical-design fixes only), 25 of the 54 rows failed:

* ``7/2`` gave 3.5, ``-7/2`` -3.5, ``(7/2)/2`` 1.75, ``SUM(int)/COUNT(*)`` 2.33, ``AVG`` of an integer column 2.33;
* ``0.3/0.1`` gave 2.9999999999999996 and ``1/3.0`` 0.333…; ``7/2.0``, ``pricepaid/commission``,
  ``SUM(pricepaid)/COUNT(*)`` and ``AVG(pricepaid)`` came back as DOUBLE, not the documented DECIMAL scale;
* ``TRUNC(timestamp)`` failed three times (DuckDB has no trunc(TIMESTAMP)), once on ADD_MONTHS's result;
* ``ADD_MONTHS('2008-04-30', 1)`` gave 2008-05-30; ``DATEDIFF(week, Sunday, Monday)`` gave 0;
* the guide's compact literals (``timestamp '20220502 04:05:06.789'``) failed in DuckDB (three DATE_PART
  rows, two DATE_TRUNC rows);
* ``TO_CHAR(…, 'MONTH-DY-DD-YYYY HH12:MIPM')`` gave ``December-4Y-31-2009 11:15PM``, ``TO_CHAR(date,
  'MONTH')`` ``December``, ``TO_CHAR(…, 'ID')`` ``I1``; ``TO_DATE('02 Oct 2001', 'DD Mon YYYY')`` failed.

Outside the table: ``GETDATE()`` came back as TIMESTAMP WITH TIME ZONE, division by zero answered ``inf``,
``TO_CHAR(…, 'J')`` answered the letter ``J`` and ``TO_CHAR(…, 'WW')`` a Sunday-based week (``%U``) instead
of being refused (a numeric format failed with DuckDB's binder error, not naming the cause). The rows that
already passed guard what sqlglot translates right.

Measured before the second fix (a reviewer's comparison with the guide): ``CONCAT('a', NULL)`` gave ``a``
(DuckDB's CONCAT skips NULLs); ``OCTET_LENGTH('français')``, ``NEXT_DAY('2014-08-20', 'Tuesday')`` and
``LAST_DAY('2008-02-10')`` failed with DuckDB binder errors (a string literal where DuckDB wants a date or
blob); ``STRTOL`` failed with "Scalar Function with name from_base does not exist";
``LEN(CAST('abc  ' AS CHAR(10)))`` gave 5. The other new rows already passed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pytest

from lakehouse.core.warehouse.dialect import UntranslatableSql, to_duckdb
from lakehouse.core.warehouse.query import warehouse_schema

_DG = "Amazon Redshift Database Developer Guide, "
NUMERIC = _DG + "Computations with numeric values (return types; DECIMAL precision and scale)"

CASES: list[tuple[str, object, str]] = [
    # integer and decimal arithmetic
    ("SELECT 7/2", 3, NUMERIC + ": INT4 / INT4 is INT4"),
    ("SELECT -7/2", -3, NUMERIC + ": INT4 / INT4 is INT4 (truncated toward zero, as PostgreSQL)"),
    ("SELECT (7/2)/2", 1, NUMERIC + " (rule): INT4 / INT4 is INT4, twice"),
    ("SELECT 7 % 2", 1, NUMERIC + ": integer operands, integer result"),
    ("SELECT SUM(qtysold) / COUNT(*) FROM sales", 2, NUMERIC + " (rule): INT8 / INT8 is INT8"),
    ("SELECT 1/3.0", Decimal("0.3333"), NUMERIC + " (rule): INT4 / DECIMAL(2,1) is DECIMAL(15,4)"),
    ("SELECT 7/2.0", Decimal("3.5000"), NUMERIC + " (rule): INT4 / DECIMAL(2,1) is DECIMAL(15,4)"),
    ("SELECT pricepaid / commission FROM sales WHERE salesid = 1", Decimal("12.500000000"),
     NUMERIC + ": DECIMAL(8,2) / DECIMAL(8,2) is DECIMAL(17,9)"),
    ("SELECT 0.3 / 0.1", Decimal("3.0000"),
     NUMERIC + " (rule): DECIMAL(1,1) / DECIMAL(1,1) is DECIMAL(5,4), exact (a double gives 2.9999)"),
    ("SELECT SUM(pricepaid) / COUNT(*) FROM sales", Decimal("120." + "0" * 22),
     NUMERIC + " (rule) with SUM function (DEC(8,2) sums to DEC(38,2)): DEC(38,2) / INT8 is DEC(38,22)"),
    ("SELECT 2.5 * 2.5", Decimal("6.25"), NUMERIC + ": * scale = s1 + s2"),
    ("SELECT 1/2::FLOAT", 0.5, NUMERIC + ": INT4 / FLOAT8 is FLOAT8"),
    ("SELECT AVG(qtysold) FROM sales", 2, _DG + "AVG function: BIGINT for any integer type argument"),
    ("SELECT AVG(pricepaid) FROM sales", Decimal("120.00"),
     _DG + "AVG function: AVG of DEC(p,2) is DEC(38,2)"),
    ("SELECT TRUNC(111.15)", Decimal("111"), _DG + "TRUNC function (number): trunc(commission) of 111.15"),
    ("SELECT TRUNC(111.15, 1)", Decimal("111.1"), _DG + "TRUNC function (number): trunc(commission, 1)"),
    ("SELECT TRUNC(111.15, -1)", Decimal("110"), _DG + "TRUNC function (number): trunc(commission, -1)"),
    ("SELECT ROUND(2.5)", Decimal("3"), _DG + "ROUND function (rule): to the nearest whole number"),
    # dates and times
    ("SELECT TRUNC(TIMESTAMP '2011-07-21 10:32:38.248109')", date(2011, 7, 21),
     _DG + "TRUNC function (date): truncates a TIMESTAMP and returns a DATE"),
    ("SELECT TRUNC(saletime) FROM sales WHERE salesid = 1", date(2008, 2, 18),
     _DG + "TRUNC function (date): TRUNC of a TIMESTAMP column is a DATE"),
    ("SELECT DATEDIFF(week, '2009-01-01', '2009-12-31')", 52, _DG + "DATEDIFF function example"),
    ("SELECT DATEDIFF(hour, '2023-01-01', '2023-01-03 05:04:03')", 53, _DG + "DATEDIFF function example"),
    ("SELECT DATEDIFF(year, '2008-12-31', '2009-01-01')", 1,
     _DG + "DATEDIFF function: boundaries crossed, 12-31-2008 to 01-01-2009 is 1 year"),
    ("SELECT DATEDIFF(hour, '2009-01-01 08:30:00', '2009-01-01 10:00:00')", 2,
     _DG + "DATEDIFF function: 8:30 to 10:00 is 2 hours"),
    ("SELECT DATEDIFF(day, '2024-01-01 23:59', '2024-01-02 00:01')", 1,
     _DG + "DATEDIFF function (rule): number of day boundaries crossed"),
    ("SELECT DATEDIFF(month, '2024-01-31', '2024-02-01')", 1,
     _DG + "DATEDIFF function (rule): number of month boundaries crossed"),
    ("SELECT DATEDIFF(week, '2024-03-03', '2024-03-04')", 1,
     _DG + "DATEDIFF function (rule) with DATE_TRUNC's Monday week: Sunday to Monday crosses one week boundary"),
    ("SELECT DATEADD(month, 18, '2008-02-28')", datetime(2009, 8, 28), _DG + "DATEADD function example"),
    ("SELECT DATEADD(m, 30, '2008-02-28')", datetime(2008, 2, 28, 0, 30),
     _DG + "DATEADD function example: m is minutes"),
    ("SELECT ADD_MONTHS('2008-03-31', 1)", datetime(2008, 4, 30), _DG + "ADD_MONTHS function example"),
    ("SELECT ADD_MONTHS('2008-04-30', 1)", datetime(2008, 5, 31), _DG + "ADD_MONTHS function example"),
    ("SELECT ADD_MONTHS('2008-01-01 05:07:30', 1)", datetime(2008, 2, 1, 5, 7, 30),
     _DG + "ADD_MONTHS function example"),
    ("SELECT TRUNC(ADD_MONTHS(DATE '2008-01-01', 12))", date(2009, 1, 1),
     _DG + "ADD_MONTHS function example: trunc(add_months(caldate, 12))"),
    ("SELECT DATE_TRUNC('second', TIMESTAMP '20200430 04:05:06.789')", datetime(2020, 4, 30, 4, 5, 6),
     _DG + "DATE_TRUNC function example"),
    ("SELECT DATE_TRUNC('week', TIMESTAMP '20200430 04:05:06.789')", datetime(2020, 4, 27),
     _DG + "DATE_TRUNC function: week truncates to the Monday"),
    ("SELECT DATE_PART(minute, timestamp '20230104 04:05:06.789')", 5, _DG + "DATE_PART function example"),
    ("SELECT DATE_PART(week, timestamp '20220502 04:05:06.789')", 18,
     _DG + "DATE_PART function example (ISO 8601 week)"),
    ("SELECT DATE_PART(dayofweek, timestamp '20220502 04:05:06.789')", 1,
     _DG + "DATE_PART function example (0-6, Sunday = 0)"),
    ("SELECT EXTRACT(dow FROM DATE '2024-03-03')", 0, _DG + "Date parts (rule): dow, Sunday = 0"),
    ("SELECT CONVERT_TIMEZONE('America/New_York', '2013-02-01 08:00:00')", datetime(2013, 2, 1, 3),
     _DG + "CONVERT_TIMEZONE function: source time zone defaults to UTC"),
    ("SELECT TO_CHAR(timestamp '2009-12-31 23:15:59', 'MONTH-DY-DD-YYYY HH12:MIPM')",
     "DECEMBER -THU-31-2009 11:15PM", _DG + "TO_CHAR example"),
    ("SELECT TO_CHAR(timestamp '2009-12-31 23:15:59', 'DDD')", "365", _DG + "TO_CHAR example"),
    ("SELECT TO_CHAR(date '2009-12-31', 'MONTH')", "DECEMBER ", _DG + "TO_CHAR example (padded to 9)"),
    ("SELECT TO_CHAR(timestamp '2022-05-16 23:15:59', 'ID')", "1", _DG + "TO_CHAR example (ISO day)"),
    ("SELECT TO_DATE('02 Oct 2001', 'DD Mon YYYY')", date(2001, 10, 2), _DG + "TO_DATE function example"),
    # conditionals, strings, aggregates
    ("SELECT DECODE(x, NULL, 'null', 'other') FROM (SELECT NULL::INT AS x)", "null",
     _DG + "DECODE function: expression and search both NULL give the result"),
    ("SELECT NVL2(NULL, 'a', 'b')", "b", _DG + "NVL2 function: the null_return_value when expression is NULL"),
    ("SELECT LEN('français')", 8, _DG + "LEN function example (characters, not bytes)"),
    ("SELECT CHARINDEX('fish', 'dogfish')", 4, _DG + "CHARINDEX function example"),
    ("SELECT CHARINDEX('dog', 'fish')", 0, _DG + "CHARINDEX function example"),
    ("SELECT MEDIAN(qty) FROM winsales WHERE sellerid = 1", 10, _DG + "MEDIAN window function example"),
    ("SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY qty) FROM winsales WHERE sellerid = 2", 20,
     _DG + "PERCENTILE_CONT function (rule): MEDIAN is PERCENTILE_CONT(0.5)"),
    ("SELECT LISTAGG(sellerid, ',') WITHIN GROUP (ORDER BY sellerid DESC) FROM (SELECT DISTINCT sellerid "
     "FROM winsales)", "2,1", _DG + "LISTAGG function (rule): values in WITHIN GROUP order"),
    ("SELECT 'a' || NULL", None, _DG + "Concatenation operator (rule): NULL operand gives NULL"),
    ("SELECT CONCAT('a', NULL)", None, _DG + "CONCAT function (rule): null if one or both expressions is null"),
    ("SELECT CONCAT('December 25, ', '2008')", "December 25, 2008", _DG + "CONCAT function example"),
    ("SELECT OCTET_LENGTH('français')", 9, _DG + "OCTET_LENGTH function example (bytes)"),
    ("SELECT LEN(CAST('abc  ' AS CHAR(10)))", 3, _DG + "LEN function (rule): trailing spaces of a CHAR not counted"),
    ("SELECT LEN(CAST('abc  ' AS VARCHAR(10)))", 5, _DG + "LEN function (rule): trailing spaces of a VARCHAR counted"),
    ("SELECT NEXT_DAY('2014-08-20','Tuesday')", date(2014, 8, 26), _DG + "NEXT_DAY function example"),
    ("SELECT NEXT_DAY(TIMESTAMP '2008-01-01 05:54:44', 'Tue')", date(2008, 1, 8), _DG + "NEXT_DAY function example"),
    ("SELECT LAST_DAY('2008-02-10')", date(2008, 2, 29),
     _DG + "LAST_DAY function (rule): last day of the month that contains date, a DATE"),
    ("SELECT STRTOL('ff', 16)", 255, _DG + "STRTOL function (rule): base-16 string to BIGINT"),
    ("SELECT STRTOL('0xf', 16)", 15, _DG + "STRTOL function example"),
    ("SELECT STRTOL('abcd1234', 16)", 2882343476, _DG + "STRTOL function example"),
    ("SELECT STRTOL('1234567', 8)", 342391, _DG + "STRTOL function example"),
    ("SELECT STRTOL('110101', 2)", 53, _DG + "STRTOL function example"),
    ("SELECT STRTOL('', 2)", 0, _DG + "STRTOL function (rule): an empty num_string converts to 0"),
]


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as con:
        con.execute("CREATE TABLE sales (salesid INTEGER, qtysold SMALLINT, pricepaid DECIMAL(8,2), "
                    "commission DECIMAL(8,2), saletime TIMESTAMP)")
        con.execute("INSERT INTO sales VALUES (1, 1, 100.00, 8.00, '2008-02-18 02:36:48'), "
                    "(2, 2, 150.00, 22.50, '2008-06-06 05:00:16'), (3, 4, 110.00, 15.00, '2008-06-06 08:26:17')")
        con.execute("CREATE TABLE winsales (sellerid INTEGER, qty INTEGER)")
        con.execute("INSERT INTO winsales VALUES (1, 10), (1, 10), (1, 30), (2, 20), (2, 20)")
        yield con


@pytest.mark.parametrize(("redshift", "expected", "source"), CASES, ids=[c[0][:60] for c in CASES])
def test_redshift_sql_gives_the_documented_answer(con, redshift: str, expected: object, source: str) -> None:
    (sql,) = to_duckdb(redshift, warehouse_schema(con))
    got = con.execute(sql).fetchone()[0]
    assert got == expected, f"{redshift} -> {sql} gave {got!r}; {source} states {expected!r}"
    if isinstance(expected, Decimal):  # the documented type, not only the value
        assert isinstance(got, Decimal) and got.as_tuple().exponent == expected.as_tuple().exponent


def test_integer_division_of_columns_of_unknown_type_is_decided_at_run_time() -> None:
    """Without a schema (a view over tables not given), int/int still truncates; other types still divide."""
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (a INTEGER, b INTEGER, x DOUBLE)")
        con.execute("INSERT INTO t VALUES (7, 2, 7.0)")
        (sql,) = to_duckdb("SELECT a / b, x / b FROM t")
        assert con.execute(sql).fetchone() == (3, 3.5)


def test_getdate_and_sysdate_are_utc_timestamps(con) -> None:
    """GETDATE/SYSDATE: the current TIMESTAMP in the session time zone, UTC by default (GETDATE, SYSDATE pages)."""
    (sql,) = to_duckdb("SELECT GETDATE(), SYSDATE", warehouse_schema(con))
    now = datetime.now(UTC).replace(tzinfo=None)
    for value in con.execute(sql).fetchone():
        assert value.tzinfo is None and abs((value - now).total_seconds()) < 60


@pytest.mark.parametrize("redshift", ["SELECT 1/0", "SELECT 1.5/0", "SELECT qtysold / (salesid - 1) FROM sales"])
def test_division_by_zero_is_an_error_as_in_redshift(con, redshift: str) -> None:
    """Redshift (as PostgreSQL) fails a query that divides by zero; DuckDB alone answers NULL.

    Seen failing before: the old translation answered ``inf`` (a DOUBLE division) instead of failing."""
    (sql,) = to_duckdb(redshift, warehouse_schema(con))
    with pytest.raises(duckdb.Error, match="division by zero"):
        con.execute(sql).fetchall()


@pytest.mark.parametrize("redshift", ["SELECT TO_CHAR(125.8, '999.99')", "SELECT TO_CHAR(GETDATE(), 'J')",
                                      "SELECT TO_CHAR(GETDATE(), 'WW')", "SELECT TO_CHAR(GETDATE(), 'SSSS')"])
def test_what_cannot_be_translated_is_refused_by_name(redshift: str) -> None:
    with pytest.raises(UntranslatableSql, match="TO_CHAR"):
        to_duckdb(redshift)


@pytest.mark.xfail(strict=True, reason="known difference (docs/batch.md): DuckDB compares trailing blanks")
def test_trailing_blanks_are_disregarded_in_comparisons(con) -> None:
    """Character types, significance of trailing blanks: trailing spaces in VARCHAR and CHAR values are
    insignificant when values are compared. Not translated; strict xfail so a fix is noticed."""
    (sql,) = to_duckdb("SELECT CASE WHEN 'abc' = 'abc  ' THEN 'eq' ELSE 'ne' END", warehouse_schema(con))
    assert con.execute(sql).fetchone()[0] == "eq"
