"""Redshift datetime format strings (TO_CHAR, TO_DATE, TO_TIMESTAMP) as DuckDB expressions.

Source: Amazon Redshift Database Developer Guide, "Datetime format strings" and "TO_CHAR". Each element keeps
its case and padding: ``MONTH``/``DAY`` are upper case and blank-padded to 9 characters, ``Mon``/``Dy`` mixed
case, ``mon``/``dy`` lower case; ``D`` is the day of the week with Sunday = 1, ``ID`` the ISO day (Monday = 1).
Text in double quotes and separators pass through. An element with no DuckDB equivalent (``CC``, ``J``, ``RM``,
``W``, ``WW``, ``IYYY``, ``IDDD``, ``SSSS``, ``TZ``, ``Y,YYY``, the ``FM``/``TH`` modifiers, ...) or a numeric
format (``999D99``) raises :class:`~lakehouse.core.warehouse.dialect.UntranslatableSql` naming the function
and the element.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

# element -> (strftime code, case: None|'upper'|'lower', pad width); order: longest first, case-sensitive ones
# before their case-insensitive fallbacks.
_CASED = [("MONTH", "%B", "upper", 9), ("Month", "%B", None, 9), ("month", "%B", "lower", 9),
          ("DAY", "%A", "upper", 9), ("Day", "%A", None, 9), ("day", "%A", "lower", 9),
          ("MON", "%b", "upper", 0), ("Mon", "%b", None, 0), ("mon", "%b", "lower", 0),
          ("DY", "%a", "upper", 0), ("Dy", "%a", None, 0), ("dy", "%a", "lower", 0),
          ("AM", "%p", "upper", 0), ("PM", "%p", "upper", 0), ("am", "%p", "lower", 0), ("pm", "%p", "lower", 0)]
_PLAIN = [("YYYY", "%Y"), ("HH24", "%H"), ("HH12", "%I"), ("DDD", "%j"), ("YY", "%y"), ("MM", "%m"),
          ("MI", "%M"), ("MS", "%g"), ("US", "%f"), ("SS", "%S"), ("DD", "%d"), ("HH", "%I"), ("IW", "%V")]
# elements computed by a function rather than a strftime code (TO_CHAR only)
_COMPUTED = [("ID", "CAST(ISODOW(__t) AS VARCHAR)"), ("D", "CAST(DAYOFWEEK(__t) + 1 AS VARCHAR)"),
             ("Q", "CAST(QUARTER(__t) AS VARCHAR)")]


#: elements that would otherwise be read as two shorter ones (SSSS: seconds past midnight; IDDD: ISO day of year)
_REFUSED = ("SSSSS", "SSSS", "IDDD")


def _untranslatable(function: str, why: str) -> Exception:
    from lakehouse.core.warehouse.dialect import UntranslatableSql

    return UntranslatableSql(f"{function}: {why}; write it in the DuckDB dialect (without --redshift)")


def _tokens(function: str, fmt: str, *, computed: bool) -> list[tuple[str, object]]:
    """``fmt`` split into ('code', (strftime, case, pad)), ('sql', template) and ('text', literal) pieces."""
    out: list[tuple[str, object]] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == '"':
            end = fmt.find('"', i + 1)
            if end < 0:
                raise _untranslatable(function, f"unclosed quote in format {fmt!r}")
            out.append(("text", fmt[i + 1:end]))
            i = end + 1
            continue
        refused = next((e for e in _REFUSED if fmt[i:].upper().startswith(e)), None)
        if refused:
            raise _untranslatable(function, f"format element {refused!r} is not translated")
        for element, code, case, pad in _CASED:
            if fmt.startswith(element, i):
                out.append(("code", (code, case, pad)))
                i += len(element)
                break
        else:
            upper = fmt[i:].upper()
            for element, code in _PLAIN:
                if upper.startswith(element):
                    out.append(("code", (code, None, 0)))
                    i += len(element)
                    break
            else:
                for element, template in _COMPUTED if computed else []:
                    if upper.startswith(element):
                        out.append(("sql", template))
                        i += len(element)
                        break
                else:
                    if fmt[i].isalnum():
                        raise _untranslatable(function, f"format element at {fmt[i:]!r} is not translated")
                    out.append(("text", fmt[i]))
                    i += 1
    return out


def _literal_format(function: str, args: list[exp.Expression]) -> str:
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        raise _untranslatable(function, "only the two-argument form with a literal format is translated")
    return args[1].this


def to_char(args: list[exp.Expression]) -> exp.Expression:
    """DuckDB expression for Redshift ``TO_CHAR(timestamp, 'format')``."""
    fmt = _literal_format("TO_CHAR", args)
    if any(c in fmt for c in "90") or "G" in fmt.upper().replace("AM", ""):
        raise _untranslatable("TO_CHAR", f"numeric format {fmt!r} is not translated")
    value = args[0]
    if isinstance(value, exp.Literal):
        value = exp.cast(value.copy(), exp.DataType.build("TIMESTAMP"))
    pieces: list[exp.Expression] = []
    run = ""  # consecutive strftime codes and text, rendered by one STRFTIME

    def flush() -> None:
        nonlocal run
        if run:
            pieces.append(exp.func("STRFTIME", value.copy(), exp.Literal.string(run)))
            run = ""

    for kind, item in _tokens("TO_CHAR", fmt, computed=True):
        if kind == "text":
            run += str(item).replace("%", "%%")
        elif kind == "code" and item[1] is None and not item[2]:
            run += item[0]
        else:
            flush()
            if kind == "sql":
                tree = sqlglot.parse_one(str(item), read="duckdb")
                for column in list(tree.find_all(exp.Column)):
                    column.replace(value.copy())
                pieces.append(tree)
                continue
            code, case, pad = item
            piece: exp.Expression = exp.func("STRFTIME", value.copy(), exp.Literal.string(code))
            if case:
                piece = exp.func(case.upper(), piece)
            if pad:
                piece = exp.func("RPAD", piece, exp.Literal.number(pad), exp.Literal.string(" "))
            pieces.append(piece)
    flush()
    if not pieces:
        return exp.Literal.string("")
    result = pieces[0]
    for piece in pieces[1:]:
        result = exp.DPipe(this=result, expression=piece)
    return exp.Paren(this=result) if len(pieces) > 1 else result


def parse_time(function: str, args: list[exp.Expression]) -> exp.Expression:
    """DuckDB expression for Redshift ``TO_DATE(text, 'format')`` (a DATE) or ``TO_TIMESTAMP(text, 'format')``."""
    if function == "TO_TIMESTAMP" and len(args) == 1:
        return exp.func("TO_TIMESTAMP", args[0].copy())
    fmt = _literal_format(function, args)
    strptime = ""
    for kind, item in _tokens(function, fmt, computed=False):
        strptime += str(item).replace("%", "%%") if kind == "text" else item[0]
    parsed = exp.func("STRPTIME", args[0].copy(), exp.Literal.string(strptime))
    return exp.cast(parsed, exp.DataType.build("DATE")) if function == "TO_DATE" else parsed
