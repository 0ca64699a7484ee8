"""A checker of the statements the loader sends to Redshift, written from the Amazon Redshift Database Developer Guide.

DuckDB runs the same load locally, but DuckDB accepting a statement proves nothing about Redshift (it accepts
``MERGE INTO t AS t …``; Redshift's MERGE grammar has no target alias). sqlglot's Redshift dialect is lenient
too, so it is used here only to get a statement's structure; every rule below is ours, taken from the page
its ``source`` names. The checker covers the statement kinds the loader and the smoke script send: MERGE,
DELETE, COPY, CREATE TABLE / CREATE TEMP TABLE … (LIKE …), CREATE SCHEMA, CREATE VIEW, DROP TABLE, DROP VIEW,
DROP SCHEMA, INSERT … VALUES / INSERT … query, SELECT, VACUUM and BEGIN/COMMIT/END/ROLLBACK. ``CREATE OR REPLACE
VIEW`` is a violation: Redshift replaces a view only by one with the identical set of columns (r_CREATE_VIEW), which the
checker cannot know, so a loader must drop and create its views. Any other kind is itself a violation (so a
new kind of statement in the loader fails the test until a rule covers it). Known limits: a view's query and a
SELECT are only parsed (their functions are the translation layer's concern), and DISTKEY/SORTKEY written as
column attributes are not parsed (the DDL uses the table attributes).

Usage: ``violations(sql)`` -> list of :class:`Violation` (empty when the statement follows the documented
grammar); ``check(sql)`` raises :class:`GrammarError` naming the first violated rule and its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

DOCS = "https://docs.aws.amazon.com/redshift/latest/dg/"
MERGE = DOCS + "r_MERGE.html"
DELETE = DOCS + "r_DELETE.html"
CORRELATED = DOCS + "r_correlated_subqueries.html"
COPY_S3 = DOCS + "copy-parameters-data-source-s3.html"
COPY_COLUMNAR = DOCS + "copy-usage_notes-copy-from-columnar.html"
CREATE_TABLE = DOCS + "r_CREATE_TABLE_NEW.html"
CHARACTER_TYPES = DOCS + "r_Character_types.html"
DROP_TABLE = DOCS + "r_DROP_TABLE.html"
DROP_SCHEMA = DOCS + "r_DROP_SCHEMA.html"
INSERT = DOCS + "r_INSERT_30.html"
CREATE_SCHEMA = DOCS + "r_CREATE_SCHEMA.html"
CREATE_VIEW = DOCS + "r_CREATE_VIEW.html"
DROP_VIEW = DOCS + "r_DROP_VIEW.html"
NUMERIC_TYPES = DOCS + "r_Numeric_types201.html"
COMPRESSION = DOCS + "c_Compression_encodings.html"
RESERVED_WORDS = DOCS + "r_pg_keywords.html"
BEGIN = DOCS + "r_BEGIN.html"
VACUUM = DOCS + "r_VACUUM_command.html"

#: VARCHAR(n) counts bytes, at most 65535 (VARCHAR(MAX)); CHAR(n) at most 4096 (r_Character_types)
MAX_VARCHAR_BYTES = 65_535
MAX_CHAR_BYTES = 4_096
MAX_COLUMNS = 1_600  # r_CREATE_TABLE_NEW, column_name
MAX_SORTKEY_COLUMNS = 400  # r_CREATE_TABLE_NEW, COMPOUND SORTKEY
#: compression encodings CREATE TABLE accepts (r_CREATE_TABLE_NEW, ENCODE)
ENCODINGS = frozenset({"AZ64", "BYTEDICT", "DELTA", "DELTA32K", "LZO", "MOSTLY8", "MOSTLY16", "MOSTLY32", "RAW",
                       "RUNLENGTH", "TEXT255", "TEXT32K", "ZSTD"})
#: the only COPY parameters allowed with a columnar (Parquet/ORC) source (copy-usage_notes-copy-from-columnar)
COLUMNAR_COPY_PARAMETERS = frozenset({"ACCEPTINVCHARS", "FILLRECORD", "FROM", "IAM_ROLE", "CREDENTIALS",
                                      "STATUPDATE", "MANIFEST", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY",
                                      "SESSION_TOKEN", "EXPLICIT_IDS", "FORMAT"})
_AUTHORIZATION = ("IAM_ROLE", "CREDENTIALS", "ACCESS_KEY_ID")
#: DECIMAL(precision, scale): "The maximum precision is 38" (r_Numeric_types201)
MAX_DECIMAL_PRECISION = 38
_T = exp.DataType.Type
#: the Redshift type of each sqlglot type a DDL column can have (TEXT is VARCHAR(256), BPCHAR is CHAR in Redshift)
_REDSHIFT_TYPE = {_T.SMALLINT: "SMALLINT", _T.INT: "INTEGER", _T.BIGINT: "BIGINT", _T.DECIMAL: "DECIMAL",
                  _T.FLOAT: "REAL", _T.DOUBLE: "DOUBLE PRECISION", _T.BOOLEAN: "BOOLEAN", _T.CHAR: "CHAR",
                  _T.NCHAR: "CHAR", _T.BPCHAR: "CHAR", _T.VARCHAR: "VARCHAR", _T.NVARCHAR: "VARCHAR",
                  _T.TEXT: "VARCHAR", _T.DATE: "DATE", _T.TIMESTAMP: "TIMESTAMP", _T.TIMESTAMPTZ: "TIMESTAMPTZ"}
_NUMBERS = ("SMALLINT", "INTEGER", "BIGINT", "DECIMAL")
_ALL_TYPES = frozenset(_REDSHIFT_TYPE.values())
#: the data types each compression encoding supports (c_Compression_encodings, the table of encodings and "Data
#: types"); a type not in :data:`_REDSHIFT_TYPE` (TIME, SUPER, VARBYTE …) is not checked
ENCODING_TYPES: dict[str, frozenset[str]] = {
    "RAW": _ALL_TYPES,
    "AZ64": frozenset({*_NUMBERS, "DATE", "TIMESTAMP", "TIMESTAMPTZ"}),
    "BYTEDICT": _ALL_TYPES - {"BOOLEAN"},
    "DELTA": frozenset({*_NUMBERS, "DATE", "TIMESTAMP"}),
    "DELTA32K": frozenset({"INTEGER", "BIGINT", "DECIMAL", "DATE", "TIMESTAMP"}),
    "LZO": frozenset({*_NUMBERS, "CHAR", "VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMPTZ"}),
    "MOSTLY8": frozenset(_NUMBERS),
    "MOSTLY16": frozenset({"INTEGER", "BIGINT", "DECIMAL"}),
    "MOSTLY32": frozenset({"BIGINT", "DECIMAL"}),
    "RUNLENGTH": _ALL_TYPES,
    "TEXT255": frozenset({"VARCHAR"}),
    "TEXT32K": frozenset({"VARCHAR"}),
    "ZSTD": _ALL_TYPES,
}
#: Amazon Redshift reserved words (r_pg_keywords: usable as names only as delimited identifiers, in double quotes)
_RESERVED_LIST = """
AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64 BACKUP BETWEEN BINARY
BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE CREDENTIALS CROSS CURRENT_DATE
CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURRENT_USER_ID DEFAULT DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC
DISABLE DISTINCT DO ELSE EMPTYASNULL ENABLE ENCODE ENCRYPT ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN FREEZE
FROM FULL GLOBALDICT256 GLOBALDICT64K GRANT GROUP GZIP HAVING IDENTITY IGNORE ILIKE IN INITIALLY INNER INTERSECT
INTERVAL INTO IS ISNULL JOIN LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16
MOSTLY32 MOSTLY8 NATURAL NEW NOT NOTNULL NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER OVERLAPS
PARALLEL PARTITION PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER REFERENCES REJECTLOG RESORT
RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE SYSTEM TABLE TAG TDES TEXT255 TEXT32K THEN
TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION UNIQUE UNNEST UNPIVOT USER USING VERBOSE WALLET WHEN WHERE WITH
WITHOUT"""
RESERVED = frozenset(_RESERVED_LIST.split())


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``rule`` (a short name), what is wrong, and the documentation page it comes from."""

    rule: str
    message: str
    source: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} ({self.source})"


class GrammarError(ValueError):
    """A statement breaks a rule of Redshift's documented grammar."""


def check(sql: str) -> None:
    """Raise :class:`GrammarError` (the first violation, with its source) unless ``sql`` follows the grammar."""
    found = violations(sql)
    if found:
        raise GrammarError(f"{found[0]} in: {' '.join(sql.split())[:160]}")


def violations(sql: str) -> list[Violation]:
    """Every rule ``sql`` (one statement, Redshift dialect) breaks; empty when it follows the documented grammar."""
    text = _strip_comments(sql).strip().rstrip(";").strip()
    head = text.split(None, 1)[0].upper() if text else ""
    if head in ("BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT"):
        return _transaction(text)
    if head == "COPY":
        return _copy(text)
    if head == "VACUUM":
        return _vacuum(text)
    if head == "MERGE" and re.search(r"\bREMOVE\s+DUPLICATES\s*$", text, re.IGNORECASE):
        return _merge_remove_duplicates(text)
    try:
        tree = sqlglot.parse_one(text, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    except ParseError as exc:
        return [Violation("parse", str(exc).splitlines()[0], DOCS + "c_SQL_reference.html")]
    if isinstance(tree, exp.Merge):
        return _merge(tree)
    if isinstance(tree, exp.Delete):
        return _delete(tree, text)
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        return _create_table(tree, text)
    if isinstance(tree, exp.Create) and tree.kind == "SCHEMA":
        return _create_schema(text)
    if isinstance(tree, exp.Create) and tree.kind == "VIEW":
        return _create_view(tree, text)
    if isinstance(tree, exp.Drop):
        return _drop_table(tree, text)
    if isinstance(tree, exp.Insert):
        return _insert(tree)
    if isinstance(tree, exp.Select | exp.Union):
        return []
    return [Violation("kind", f"{head or 'an empty statement'} is not a statement kind this checker covers", DOCS)]


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", " ", sql)


def _alias(table: exp.Expression | None) -> str:
    return table.alias if isinstance(table, exp.Table) else ""


# MERGE INTO target_table USING source_table [ [ AS ] alias ] ON match_condition
# [ WHEN MATCHED THEN { UPDATE SET col_name = { expr } [,...] | DELETE }
#   WHEN NOT MATCHED THEN INSERT [ ( col_name [,...] ) ] VALUES ( { expr } [, ...] ) | REMOVE DUPLICATES ]
def _merge(tree: exp.Merge) -> list[Violation]:
    out: list[Violation] = []
    if tree.args.get("with_") or tree.args.get("with"):
        out.append(Violation("merge-with", "MERGE takes no WITH clause (MERGE INTO target_table USING "
                             "source_table …); stage the query in a table first", MERGE))
    target, source = tree.this, tree.args.get("using")
    if not isinstance(target, exp.Table):
        out.append(Violation("merge-target", "the MERGE target must be a table", MERGE))
    elif _alias(target):
        out.append(Violation("merge-target-alias", f"the MERGE target has an alias ({target.alias}); only "
                             "source_table takes one", MERGE))
    if not isinstance(source, exp.Table):
        out.append(Violation("merge-source", "source_table must be a table (not a subquery or VALUES)", MERGE))
    out += _merge_condition(tree.args.get("on"), target, source)
    whens = tree.args.get("whens")
    clauses = list(whens.expressions) if whens else []
    kinds = [("MATCHED" if w.args.get("matched") else "NOT MATCHED") for w in clauses]
    if kinds != ["MATCHED", "NOT MATCHED"]:
        out.append(Violation("merge-clauses", "MERGE needs exactly WHEN MATCHED then WHEN NOT MATCHED (or REMOVE "
                             f"DUPLICATES); found {kinds or 'none'}", MERGE))
    for when in clauses:
        if when.args.get("condition") is not None:
            out.append(Violation("merge-when-condition", "WHEN [NOT] MATCHED takes no AND condition", MERGE))
        if when.args.get("source"):
            out.append(Violation("merge-by-source", "WHEN NOT MATCHED BY SOURCE is not in the grammar", MERGE))
        action = when.args.get("then")
        if when.args.get("matched"):
            out += _merge_matched(action)
        else:
            out += _merge_insert(action)
    return out


def _merge_condition(on: exp.Expression | None, target, source) -> list[Violation]:
    """match_condition: equal predicates between a source column and a target column, joined by AND."""
    if on is None:
        return [Violation("merge-on", "MERGE needs ON match_condition", MERGE)]
    names = {n for n in (_alias(source), _alias(target), getattr(source, "name", ""), getattr(target, "name", ""))
             if n}
    out = []
    for predicate in on.flatten() if isinstance(on, exp.And) else [on]:
        sides_are_columns = all(isinstance(side, exp.Column) for side in predicate.args.values())
        if not isinstance(predicate, exp.EQ) or not sides_are_columns:
            out.append(Violation("merge-on", f"match_condition must be column = column predicates: {predicate.sql()}",
                                 MERGE))
            continue
        sides = {predicate.this.table, predicate.expression.table}
        if not sides <= names or len(sides) != 2:
            out.append(Violation("merge-on", f"each predicate must compare a source and a target column: "
                                 f"{predicate.sql()}", MERGE))
    return out


def _merge_matched(action) -> list[Violation]:
    if isinstance(action, exp.Var) and action.name.upper() == "DELETE":
        return []
    if not isinstance(action, exp.Update):
        return [Violation("merge-matched", "WHEN MATCHED takes UPDATE SET … or DELETE", MERGE)]
    out = []
    for assignment in action.expressions:
        column = assignment.this
        if not isinstance(column, exp.Column) or column.table:
            out.append(Violation("merge-update-column", f"UPDATE SET names target columns without a table name: "
                                 f"{assignment.sql()}", MERGE))
    return out


def _merge_insert(action) -> list[Violation]:
    if not isinstance(action, exp.Insert):
        return [Violation("merge-not-matched", "WHEN NOT MATCHED takes only INSERT", MERGE)]
    columns, values = action.this, action.expression
    if not values and isinstance(columns, exp.Tuple) and len(columns.expressions) == 1 \
            and isinstance(columns.expressions[0], exp.Anonymous) and columns.expressions[0].name.upper() == "VALUES":
        columns, values = None, exp.Tuple(expressions=list(columns.expressions[0].expressions))  # INSERT VALUES (…)
    out = []
    if isinstance(columns, exp.Tuple):
        for column in columns.expressions:
            if not isinstance(column, exp.Column) or column.table:
                out.append(Violation("merge-insert-column", f"INSERT names target columns without a table name: "
                                     f"{column.sql()}", MERGE))
    if not isinstance(values, exp.Tuple):
        out.append(Violation("merge-insert-values", "INSERT takes VALUES ( expr [, …] )", MERGE))
    elif isinstance(columns, exp.Tuple) and len(columns.expressions) != len(values.expressions):
        out.append(Violation("merge-insert-values", f"{len(columns.expressions)} columns but "
                             f"{len(values.expressions)} values", MERGE))
    return out


_REMOVE_DUPLICATES = re.compile(r"^MERGE\s+INTO\s+(?P<target>[\w.]+)\s+USING\s+(?P<source>[\w.]+)"
                                r"(?:\s+(?:AS\s+)?(?P<alias>\w+))?\s+ON\s+(?P<on>.+?)\s+REMOVE\s+DUPLICATES$",
                                re.IGNORECASE | re.DOTALL)


def _merge_remove_duplicates(text: str) -> list[Violation]:
    """The simplified mode: ``MERGE INTO target USING source [[AS] alias] ON condition REMOVE DUPLICATES``."""
    match = _REMOVE_DUPLICATES.match(text)
    if not match or (match["alias"] or "").upper() == "ON":
        return [Violation("merge-remove-duplicates", "expected MERGE INTO target_table USING source_table "
                          "[[AS] alias] ON match_condition REMOVE DUPLICATES (no target alias, no WHEN clauses)",
                          MERGE)]
    return []


# DELETE [ FROM ] table_name [ { USING } table_name, ... ] [ WHERE condition ]
def _delete(tree: exp.Delete, text: str) -> list[Violation]:
    out = []
    target = tree.this or next(iter(tree.args.get("tables") or []), None)
    if not isinstance(target, exp.Table):
        out.append(Violation("delete-target", "DELETE removes rows from a table", DELETE))
    elif _alias(target):
        out.append(Violation("delete-target-alias", f"DELETE's table_name takes no alias ({target.alias})", DELETE))
    if tree.args.get("using") and not re.match(r"^DELETE\s+FROM\b", text, re.IGNORECASE):
        out.append(Violation("delete-from", "FROM is required when USING is given", DELETE))
    for inner in tree.find_all(exp.Exists):
        if inner.find_ancestor(exp.Exists) and _correlates_past(inner, tree):
            out.append(Violation("delete-skip-level", "a correlation reference skips a query block", CORRELATED))
    return out


def _correlates_past(inner: exp.Exists, tree: exp.Delete) -> bool:
    """Whether a subquery nested in another references the outermost table (a skip-level correlation)."""
    table = tree.this or next(iter(tree.args.get("tables") or []), None)
    target = table.name if isinstance(table, exp.Table) else ""
    return any(column.table == target for column in inner.find_all(exp.Column))


_COPY = re.compile(r"^COPY\s+(?P<table>[\w.]+)\s*(?:\((?P<columns>[^)]*)\)\s*)?FROM\s+'(?P<source>(?:[^']|'')*)'"
                   r"(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)


# COPY table_name [ column_list ] FROM data_source authorization [ [ FORMAT ] [ AS ] data_format ] [ parameter … ]
def _copy(text: str) -> list[Violation]:
    match = _COPY.match(text)
    if not match:
        return [Violation("copy", "expected COPY table_name [(column_list)] FROM 's3://…' parameters", COPY_S3)]
    rest = re.sub(r"'(?:[^']|'')*'", "''", match["rest"])
    words = [w.upper() for w in re.findall(r"[A-Za-z_0-9]+", rest)]
    out = []
    if not match["source"].startswith("s3://"):
        out.append(Violation("copy-source", "COPY from Amazon S3 names an 's3://…' object path or manifest", COPY_S3))
    if not any(word in words for word in _AUTHORIZATION):
        out.append(Violation("copy-authorization", "COPY needs authorization (IAM_ROLE '…')", COPY_S3))
    manifest = "MANIFEST" in words
    names_manifest = bool(re.search(r"manifest|\.json$", match["source"], re.IGNORECASE))
    if names_manifest and not manifest:
        out.append(Violation("copy-manifest", "a manifest file is read as data unless MANIFEST is given", COPY_S3))
    if manifest and match["source"].endswith("/"):
        out.append(Violation("copy-manifest", "MANIFEST needs the key of one manifest file, not a prefix", COPY_S3))
    columnar = re.search(r"\bFORMAT\s+(?:AS\s+)?(PARQUET|ORC)\b", rest, re.IGNORECASE)
    if columnar:
        keywords = set(re.findall(r"\b([A-Z_]+)\b", re.sub(r"''", "", rest.upper())))
        extra = sorted(keywords - COLUMNAR_COPY_PARAMETERS - {"AS", "PARQUET", "ORC", "TRUE", "FALSE", "ON", "OFF"})
        if extra:
            out.append(Violation("copy-columnar-parameters", f"{', '.join(extra)} not allowed with "
                                 f"FORMAT AS {columnar[1].upper()}", COPY_COLUMNAR))
    return out


# CREATE [ [LOCAL ] { TEMPORARY | TEMP } ] TABLE [ IF NOT EXISTS ] table_name ( { column_name data_type
#   [column_attributes] [column_constraints] | table_constraints | LIKE parent_table } [, ...] ) [table_attribute]
def _create_table(tree: exp.Create, text: str) -> list[Violation]:
    out = []
    schema = tree.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    temporary = bool(re.match(r"^CREATE\s+(?:LOCAL\s+)?(?:TEMP|TEMPORARY)\s+TABLE\b", text, re.IGNORECASE))
    if temporary and isinstance(table, exp.Table) and table.db:
        out.append(Violation("temp-table-schema", "a temporary table's name takes no schema", CREATE_TABLE))
    items = schema.expressions if isinstance(schema, exp.Schema) else []
    columns = {c.name: c for c in items if isinstance(c, exp.ColumnDef)}
    out += _reserved_names(c for c in items if isinstance(c, exp.ColumnDef))
    like = [i for i in items if isinstance(i, exp.LikeProperty)] or list(tree.find_all(exp.LikeProperty))
    properties = tree.args.get("properties")
    props = list(properties.expressions) if properties else []
    if like and any(isinstance(p, exp.DistKeyProperty | exp.DistStyleProperty | exp.SortKeyProperty) for p in props):
        out.append(Violation("like-physical", "CREATE TABLE … LIKE inherits DISTSTYLE and SORTKEY; they cannot be "
                             "set explicitly", CREATE_TABLE))
    if len(columns) > MAX_COLUMNS:
        out.append(Violation("columns", f"{len(columns)} columns (at most {MAX_COLUMNS})", CREATE_TABLE))
    for name, column in columns.items():
        out += _column_type(name, column)
        for constraint in column.constraints:
            kind = constraint.args.get("kind")
            if isinstance(kind, exp.EncodeColumnConstraint):
                out += _encoding(name, column, kind.this.name.upper())
    out += _table_attributes(props, columns, items)
    return out


def _reserved_names(columns) -> list[Violation]:
    """Column names that are reserved words written without double quotes (r_pg_keywords)."""
    out = []
    for column in columns:
        identifier = column.this
        if isinstance(identifier, exp.Identifier):
            if identifier.quoted or identifier.name.upper() not in RESERVED:
                continue
            word = identifier.name
        else:  # sqlglot read a keyword as an expression (USER -> CURRENT_USER): a reserved word either way
            word = identifier.sql("redshift")
        out.append(Violation("reserved-word", f"column {word} is a reserved word; quote it (\"{word}\") or rename it",
                             RESERVED_WORDS))
    return out


def _encoding(name: str, column: exp.ColumnDef, encoding: str) -> list[Violation]:
    """ENCODE names a known encoding (r_CREATE_TABLE_NEW) that supports the column's type (c_Compression_encodings)."""
    if encoding not in ENCODINGS:
        return [Violation("encode", f"{name}: unknown encoding {encoding}", CREATE_TABLE)]
    kind = column.args.get("kind")
    redshift_type = _REDSHIFT_TYPE.get(kind.this) if isinstance(kind, exp.DataType) else None
    if redshift_type is not None and redshift_type not in ENCODING_TYPES[encoding]:
        return [Violation("encode-type", f"{name}: ENCODE {encoding} does not support {redshift_type}", COMPRESSION)]
    return []


def _column_type(name: str, column: exp.ColumnDef) -> list[Violation]:
    kind = column.args.get("kind")
    if isinstance(kind, exp.DataType) and kind.this == exp.DataType.Type.DECIMAL and kind.expressions:
        precision = kind.expressions[0].this
        text = precision.name if isinstance(precision, exp.Expression) else str(precision)
        if not text.isdigit() or not 1 <= int(text) <= MAX_DECIMAL_PRECISION:
            return [Violation("decimal-precision", f"{name}: {kind.sql('redshift')} (precision 1 to "
                              f"{MAX_DECIMAL_PRECISION})", NUMERIC_TYPES)]
        return []
    if not isinstance(kind, exp.DataType) or kind.this not in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR,
                                                                exp.DataType.Type.NVARCHAR, exp.DataType.Type.NCHAR):
        return []
    limit = MAX_CHAR_BYTES if kind.this in (exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR) else MAX_VARCHAR_BYTES
    sizes = kind.expressions
    if not sizes:
        return []
    size = sizes[0].this
    text = size.name if isinstance(size, exp.Expression) else str(size)
    if text.upper() == "MAX":
        return []
    if not text.isdigit() or not 1 <= int(text) <= limit:
        return [Violation("character-length", f"{name}: {kind.sql('redshift')} (lengths count bytes, 1 to {limit})",
                          CHARACTER_TYPES)]
    return []


def _table_attributes(props, columns, items) -> list[Violation]:
    out = []
    style = next((p for p in props if isinstance(p, exp.DistStyleProperty)), None)
    distkey = next((p for p in props if isinstance(p, exp.DistKeyProperty)), None)
    style_name = style.this.name.upper() if style is not None else None
    if style_name == "KEY" and distkey is None:
        out.append(Violation("diststyle-key", "DISTSTYLE KEY needs a DISTKEY column", CREATE_TABLE))
    if distkey is not None:
        if style_name not in (None, "KEY"):
            out.append(Violation("distkey-style", f"DISTKEY with DISTSTYLE {style_name}", CREATE_TABLE))
        if distkey.this.name not in columns:
            out.append(Violation("distkey-column", f"DISTKEY {distkey.this.name} is not a column", CREATE_TABLE))
    for prop in props:
        if isinstance(prop, exp.SortKeyProperty):
            keys = prop.this if isinstance(prop.this, list) else [prop.this]
            names = [k.name for k in keys]
            missing = [n for n in names if n not in columns]
            if missing:
                out.append(Violation("sortkey-column", f"SORTKEY names no column {missing}", CREATE_TABLE))
            if len(names) > MAX_SORTKEY_COLUMNS:
                out.append(Violation("sortkey-columns", f"{len(names)} SORTKEY columns", CREATE_TABLE))
    for item in items:
        if isinstance(item, exp.PrimaryKey):
            missing = [e.name for e in item.expressions if e.name not in columns]
            if missing:
                out.append(Violation("primary-key-column", f"PRIMARY KEY names no column {missing}", CREATE_TABLE))
    return out


def _create_schema(text: str) -> list[Violation]:
    if re.match(r"^CREATE\s+SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+$", text, re.IGNORECASE):
        return []
    return [Violation("create-schema", "expected CREATE SCHEMA [ IF NOT EXISTS ] schema_name", CREATE_SCHEMA)]


# CREATE [ OR REPLACE ] VIEW name [ ( column_name [, ...] ) ] AS query [ WITH NO SCHEMA BINDING ]
def _create_view(tree: exp.Create, text: str) -> list[Violation]:
    """CREATE VIEW name AS query. OR REPLACE is a violation: "You can only replace a view with a new query that
    generates the identical set of columns, using the same column names and data types" (r_CREATE_VIEW), so it
    fails as soon as a view's columns change; a loader drops the view (``DROP VIEW IF EXISTS … CASCADE``) and
    creates it instead."""
    if not re.match(r"^CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+[\w.]+\s+(?:\([^)]*\)\s+)?AS\s", text, re.IGNORECASE):
        return [Violation("create-view", "expected CREATE [OR REPLACE] VIEW name AS query", CREATE_VIEW)]
    if not isinstance(tree.expression, exp.Query):
        return [Violation("create-view", "a view is defined by a query", CREATE_VIEW)]
    if re.match(r"^CREATE\s+OR\s+REPLACE\b", text, re.IGNORECASE):
        return [Violation("create-or-replace-view", "OR REPLACE only replaces a view by one with the identical set "
                          "of columns (names and types); DROP VIEW IF EXISTS … CASCADE, then CREATE VIEW",
                          CREATE_VIEW)]
    return []


# DROP TABLE [ IF EXISTS ] name [, ...] [ CASCADE | RESTRICT ]
# DROP VIEW [ IF EXISTS ] name [, ... ] [ CASCADE | RESTRICT ]
# DROP SCHEMA [ IF EXISTS ] name [, ...] [ DROP EXTERNAL DATABASE ] [ CASCADE | RESTRICT ]
def _drop_table(tree: exp.Drop, text: str) -> list[Violation]:
    if tree.kind == "SCHEMA":
        if re.match(r"^DROP\s+SCHEMA\s+(?:IF\s+EXISTS\s+)?\w+(?:\s*,\s*\w+)*(?:\s+DROP\s+EXTERNAL\s+DATABASE)?"
                    r"(?:\s+(?:CASCADE|RESTRICT))?$", text, re.IGNORECASE):
            return []
        return [Violation("drop-schema", "expected DROP SCHEMA [ IF EXISTS ] name [, …] [ CASCADE | RESTRICT ]",
                          DROP_SCHEMA)]
    if tree.kind == "VIEW":
        if re.match(r"^DROP\s+VIEW\s+(?:IF\s+EXISTS\s+)?[\w.]+(?:\s*,\s*[\w.]+)*(?:\s+(?:CASCADE|RESTRICT))?$", text,
                    re.IGNORECASE):
            return []
        return [Violation("drop-view", "expected DROP VIEW [ IF EXISTS ] name [, …] [ CASCADE | RESTRICT ]",
                          DROP_VIEW)]
    if re.match(r"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?[\w.]+(?:\s*,\s*[\w.]+)*(?:\s+(?:CASCADE|RESTRICT))?$", text,
                re.IGNORECASE):
        return []
    return [Violation("drop-table", "expected DROP TABLE [ IF EXISTS ] name [, …] [ CASCADE | RESTRICT ]",
                      DROP_TABLE)]


# INSERT INTO table_name [ ( column [, ...] ) ] { DEFAULT VALUES | VALUES ( { expression | DEFAULT } [, ...] ) | query }
def _insert(tree: exp.Insert) -> list[Violation]:
    out = []
    target = tree.this
    table = target.this if isinstance(target, exp.Schema) else target
    if _alias(table):
        out.append(Violation("insert-target-alias", "INSERT INTO table_name takes no alias", INSERT))
    columns = target.expressions if isinstance(target, exp.Schema) else []
    values = tree.expression
    if columns and isinstance(values, exp.Values):
        for row in values.expressions:
            if len(row.expressions) != len(columns):
                out.append(Violation("insert-values", f"{len(columns)} columns but {len(row.expressions)} values",
                                     INSERT))
    if columns and isinstance(values, exp.Query):
        selected = values.selects
        if not any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                   for e in selected) and len(selected) != len(columns):
            out.append(Violation("insert-query", f"{len(columns)} columns but the query gives {len(selected)}",
                                 INSERT))
    return out


_TRANSACTION = re.compile(r"^(?:BEGIN(?:\s+(?:WORK|TRANSACTION))?|START\s+TRANSACTION"
                          r"|(?:COMMIT|END|ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?)$", re.IGNORECASE)


# BEGIN [ WORK | TRANSACTION ] [ ISOLATION LEVEL option ] [ READ WRITE | READ ONLY ]; COMMIT/END/ROLLBACK [ WORK |
# TRANSACTION ] (the loader uses no isolation options)
_VACUUM = re.compile(r"^VACUUM(?:\s+(?:FULL|SORT\s+ONLY|DELETE\s+ONLY|REINDEX|RECLUSTER))?"
                     r"(?:\s+(?P<table>(?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?))?"
                     r"(?:\s+TO\s+(?P<threshold>\d+)\s+PERCENT)?(?:\s+BOOST)?$", re.IGNORECASE)


def _vacuum(text: str) -> list[Violation]:
    """``VACUUM [ FULL | SORT ONLY | DELETE ONLY | REINDEX | RECLUSTER ] [ [ table_name ] [ TO threshold PERCENT ]
    [ BOOST ] ]``; the threshold is 0-100 and needs a table. VACUUM cannot run inside a transaction block: the
    caller's concern (autocommit), not one statement's."""
    match = _VACUUM.match(" ".join(text.split()))
    if not match:
        return [Violation("vacuum", f"not VACUUM's grammar: {text[:60]}", VACUUM)]
    threshold = match.group("threshold")
    if threshold is not None and (int(threshold) > 100 or not match.group("table")):
        return [Violation("vacuum-threshold", "TO threshold PERCENT takes 0-100 and a table name", VACUUM)]
    return []


def _transaction(text: str) -> list[Violation]:
    if _TRANSACTION.match(" ".join(text.split())):
        return []
    return [Violation("transaction", f"not a BEGIN/COMMIT/END/ROLLBACK statement: {text[:40]}", BEGIN)]
