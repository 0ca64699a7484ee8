"""Contract validation as Spark SQL expressions (``Settings.batch.validation = "spark"``).

Every rule is built from :mod:`glue_jobs.curated.contract_spec`, so the limits are the contract's own.
Values are read twice: ``from_json`` with an explicit typed schema (columns ``pt``/``tt``, the fast path: a
number already parsed as a number) and as JSON text (``p``/``tr``, ``map<string,string>``), which gives
presence and, only when the typed value is missing, the lax-mode reading pydantic applies: numbers may
arrive as numeric strings, integers as ``2.0``, booleans as ``"yes"``/``1``; strings are stripped before
their length is checked.

Rules are SQL text (``try_cast``, ``transform``, ``map_contains_key``) that Spark 3.5 (Glue 5) and 4.x both
evaluate, with or without ANSI mode. They refer to the parsed record's text columns (``event_id, type,
event, name, user_id, anonymous_id, timestamp, received_at, properties, traits, context,
_corrupt_record``), to ``p``/``tr``/``pt``/``tt``, and to derived columns (:attr:`RuleSet.derived`: parsed
lists and the reason of their first bad item, computed once per row).

Known difference: text cannot tell a JSON string from a number, so ``{"category": 5}`` passes these rules
while ``parse_event`` rejects it (string fields accept any scalar here).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from glue_jobs.curated.contract_spec import (
    FieldSpec,
    ObjectSpec,
    call_types,
    calls_with_object,
    envelope_limits,
    event_property_specs,
    named_calls,
    required_ids,
    time_bounds,
    traits_models,
)

BOOL_TRUE = ("true", "1", "1.0", "yes", "on", "t", "y")
BOOL_FALSE = ("false", "0", "0.0", "no", "off", "f", "n")
LINE_ERROR = "(line): is not a JSON object"
_WHITESPACE = "' \\t\\n\\r\\u000C\\u000B'"  # what Python's str.strip() removes (ASCII)


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL list of string literals, for ``IN``: ``('a', 'b')``."""
    return "(" + ", ".join(lit(v) for v in values) + ")"


def stripped(expr: str) -> str:
    """Python's ``str.strip()`` for ASCII whitespace (pydantic's ``str_strip_whitespace``)."""
    return f"trim(BOTH {_WHITESPACE} FROM {expr})"


def number_of(text: str, clean: str | None = None) -> str:
    """The numeric value of a JSON scalar's text (booleans count as 1/0, as in pydantic's lax mode)."""
    clean = clean or stripped(text)
    return (f"CASE WHEN lower({clean}) = 'true' THEN 1.0D WHEN lower({clean}) = 'false' THEN 0.0D "
            f"ELSE try_cast({clean} AS DOUBLE) END")


def decimal_number_of(text: str, clean: str | None = None) -> str:
    """The numeric value of a JSON scalar's text for a Decimal field (pydantic's Decimal refuses booleans)."""
    return f"try_cast({clean or stripped(text)} AS DOUBLE)"


def number(text: str) -> str:
    """SQL for the number a JSON scalar's text holds, NULL if none: how curated tables type their numbers."""
    return number_of(text)


@dataclass(frozen=True)
class Rule:
    """A SQL condition that is true when a record breaks the contract, and the reason (SQL) recorded."""

    failed: str
    reason: str  # a SQL expression, usually a literal

    @classmethod
    def named(cls, reason: str, failed: str) -> Rule:
        """A rule whose reason is the fixed text ``reason``."""
        return cls(failed, lit(reason))


def spark_type(spec: FieldSpec) -> str | None:
    """The type ``from_json`` reads a field as on the fast path (None: text only)."""
    if spec.kind in ("int", "float", "decimal"):
        return "double"
    if spec.kind == "bool":
        return "boolean"
    if spec.kind == "list":
        fields = [f"{item.keys[i]}: {spark_type(item) or 'string'}" for item in spec.items
                  for i in range(len(item.keys))]
        return f"array<struct<{', '.join(fields)}>>"
    return "string"


def typed_schema(specs: list[ObjectSpec]) -> str:
    """One struct type holding every field of ``specs`` (fields whose kinds disagree are left out)."""
    types: dict[str, str | None] = {}
    for spec in specs:
        for f in spec.fields:
            for key in f.keys:
                kind = spark_type(f)
                types[key] = kind if types.get(key, kind) == kind else None
    return "struct<" + ", ".join(f"{k}: {t}" for k, t in types.items() if t) + ">"


@dataclass
class Values:
    """How rules read a field: the map of JSON texts (presence, lax parsing) and the typed struct
    ``from_json`` produced (the fast path: a number already parsed as a number)."""

    container: str  # SQL of a map<string,string>
    typed: str | None = None  # SQL of the typed struct, or None
    typed_fields: frozenset[str] = frozenset()
    derived: dict[str, str] = field(default_factory=dict)  # column name -> SQL (computed once per row)
    inline: bool = False

    def add(self, sql: str) -> str:
        """A value worth computing once per row: a field's text, stripped text and number (many events' rules
        read the same key), a parsed list and the reason of its first bad item. Named by a hash of its SQL, so
        one value is computed once however many rules read it; this keeps the rule expression small enough for
        Spark to analyse and compile quickly."""
        if self.inline:
            return f"({sql})"
        name = "_v" + hashlib.sha1(sql.encode()).hexdigest()[:12]
        self.derived.setdefault(name, sql)
        return name

    def present(self, spec: FieldSpec) -> str:
        """SQL: true when the field is present under any of its keys (even as JSON null)."""
        return self.add("(" + " OR ".join(f"map_contains_key({self.container}, {lit(k)})" for k in spec.keys) + ")")

    def _pick(self, values: list[str], keys: tuple[str, ...]) -> str:
        if len(keys) == 1:
            return values[0]
        return "(CASE " + " ".join(f"WHEN map_contains_key({self.container}, {lit(k)}) THEN {v}"
                                   for k, v in zip(keys, values, strict=True)) + " END)"

    def text(self, spec: FieldSpec) -> str:
        """SQL of the field's JSON text (the first key present), NULL when absent or null."""
        return self.add(self._pick([f"{self.container}[{lit(k)}]" for k in spec.keys], spec.keys))

    def clean(self, spec: FieldSpec) -> str:
        """SQL of the field's text, stripped as pydantic strips strings."""
        return self.add(stripped(self.text(spec)))

    def _typed(self, spec: FieldSpec) -> str | None:
        if self.typed is None or not all(k in self.typed_fields for k in spec.keys):
            return None
        return self._pick([f"{self.typed}.{k}" for k in spec.keys], spec.keys)

    def number(self, spec: FieldSpec) -> str:
        """SQL of the field as a double: the typed value, else the lax reading of its text (NULL if neither).

        Only the range is checked on this double; curated tables read amounts exactly
        (:mod:`glue_jobs.curated.parse`)."""
        reader = decimal_number_of if spec.kind == "decimal" else number_of
        lax = reader(self.text(spec), self.clean(spec))
        fast = self._typed(spec)
        return self.add(f"coalesce({fast}, {lax})" if fast else f"({lax})")


def _fmt(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def _range_text(spec: FieldSpec) -> str:
    if spec.ge is not None and spec.le is not None:
        return f" between {_fmt(spec.ge)} and {_fmt(spec.le)}"
    if spec.ge is not None:
        return f" of at least {_fmt(spec.ge)}"
    if spec.le is not None:
        return f" of at most {_fmt(spec.le)}"
    return ""


def _out_of_range(value: str, spec: FieldSpec) -> str:
    checks = [f"{value} IS NULL", f"isnan({value})", f"{value} IN (double('Infinity'), double('-Infinity'))"]
    if spec.ge is not None:
        checks.append(f"{value} < {spec.ge!r}D")
    if spec.le is not None:
        checks.append(f"{value} > {spec.le!r}D")
    return " OR ".join(checks)


def value_rule(path: str, spec: FieldSpec, values: Values) -> Rule:
    """The rule for a present, non-null value of a scalar field."""
    text, where = values.text(spec), f"{path}.{spec.name}"
    if spec.kind == "string":
        clean = values.clean(spec)
        if spec.pattern:
            subject = f"upper({clean})" if spec.pattern_name == "currency" else clean
            bad = f"NOT ({subject} RLIKE {lit(spec.pattern)})"
            if spec.max_length is not None:
                bad += f" OR char_length({clean}) > {spec.max_length}"
            return Rule.named(f"{where}: {spec.pattern_message}", f"{text} IS NOT NULL AND ({bad})")
        checks, wants = [], []
        if spec.min_length:
            checks.append(f"char_length({clean}) < {spec.min_length}")
            wants.append(f"at least {spec.min_length} character" + ("s" if spec.min_length > 1 else ""))
        if spec.max_length is not None:
            checks.append(f"char_length({clean}) > {spec.max_length}")
            wants.append(f"at most {spec.max_length} characters")
        if not checks:
            return Rule.named(f"{where}: is invalid", "false")
        return Rule.named(f"{where}: must have " + " and ".join(wants),
                          f"{text} IS NOT NULL AND ({' OR '.join(checks)})")
    if spec.kind == "int":
        value = values.number(spec)
        return Rule.named(f"{where}: must be an integer{_range_text(spec)}",
                          f"{text} IS NOT NULL AND ({_out_of_range(value, spec)} OR rint({value}) <> {value})")
    if spec.kind in ("float", "decimal"):
        return Rule.named(f"{where}: must be a number{_range_text(spec)}",
                          f"{text} IS NOT NULL AND ({_out_of_range(values.number(spec), spec)})")
    if spec.kind == "object":
        return Rule.named(f"{where}: must be an object",
                          f"{text} IS NOT NULL AND from_json({text}, 'map<string,string>') IS NULL")
    if spec.kind == "bool":
        typed = values._typed(spec)
        lax = f"lower({values.clean(spec)}) NOT IN {in_list(BOOL_TRUE + BOOL_FALSE)}"
        return Rule.named(f"{where}: must be true or false",
                          f"{text} IS NOT NULL AND " + (f"{typed} IS NULL AND {lax}" if typed else lax))
    if spec.kind == "enum":
        choices = ", ".join(f"'{c}'" for c in spec.choices)
        return Rule.named(f"{where}: must be one of {choices}", f"{text} NOT IN {in_list(spec.choices)}")
    if spec.kind == "date":
        return Rule.named(f"{where}: must be a date like 2024-11-05",
                          f"{text} IS NOT NULL AND NOT ({text} RLIKE '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' "
                          f"AND try_cast({text} AS DATE) IS NOT NULL)")
    raise ValueError(f"no value rule for kind {spec.kind!r}")


def field_rules(path: str, spec: FieldSpec, values: Values) -> list[Rule]:
    """Rules of one field (``path`` is how reasons name it, e.g. ``properties``)."""
    present, text, where = values.present(spec), values.text(spec), f"{path}.{spec.name}"
    rules = []
    if spec.required:
        rules.append(Rule.named(f"{where}: is required", f"NOT {present}"))
    if not spec.nullable:
        rules.append(Rule.named(f"{where}: must not be null", f"{present} AND {text} IS NULL"))
    if spec.kind != "list":
        rules.append(value_rule(path, spec, values))
        return rules
    maps = values.add(f"from_json({text}, 'array<map<string,string>>')")
    typed = values._typed(spec)
    rules.append(Rule.named(f"{where}: must be a list of objects", f"{text} IS NOT NULL AND {maps} IS NULL"))
    if spec.min_length:
        rules.append(Rule.named(f"{where}: must hold at least {spec.min_length} item(s)",
                                f"{maps} IS NOT NULL AND size({maps}) < {spec.min_length}"))
    if spec.max_length is not None:
        rules.append(Rule.named(f"{where}: must hold at most {spec.max_length} items",
                                f"{maps} IS NOT NULL AND size({maps}) > {spec.max_length}"))
    item_fields = frozenset(k for item in spec.items for k in item.keys)
    item_values = Values("item.m", "item.t" if typed else None, item_fields, inline=True)
    item_rules = [Rule.named(f"{where}[]: must be an object", "item.m IS NULL")]
    item_rules += [r for item in spec.items for r in field_rules(f"{where}[]", item, item_values)]
    typed_item = f"try_element_at({typed}, i + 1)" if typed else "CAST(NULL AS STRING)"
    pairs = f"transform({maps}, (m, i) -> named_struct('t', {typed_item}, 'm', m))"
    first_bad = values.add(f"try_element_at(filter(transform({pairs}, item -> {case(item_rules)}), "
                           f"r -> r IS NOT NULL), 1)")
    rules.append(Rule(f"{first_bad} IS NOT NULL", first_bad))
    return rules


def object_rules(path: str, spec: ObjectSpec, values: Values) -> list[Rule]:
    """The rules of every field of one properties/traits object, in field order (the first failing one is
    the reason recorded)."""
    return [rule for f in spec.fields for rule in field_rules(path, f, values)]


def case(rules: list[Rule]) -> str:
    """The first failing rule's reason, or NULL."""
    if not rules:
        return "CAST(NULL AS STRING)"
    return "CASE " + " ".join(f"WHEN {r.failed} THEN {r.reason}" for r in rules) + " END"


def _string_limit(column: str, label: str, maximum: int, required: bool) -> list[Rule]:
    value = stripped(column)
    too_long = Rule.named(f"{label}: must have at most {maximum} characters",
                          f"char_length({value}) > {maximum}")
    if required:
        return [Rule.named(f"{label}: is required", f"{column} IS NULL OR char_length({value}) = 0"), too_long]
    return [too_long, Rule.named(f"{label}: must not be empty", f"{column} IS NOT NULL AND char_length({value}) = 0")]


@dataclass(frozen=True)
class RuleSet:
    """Derived value columns, the envelope's rules and the per-call-kind rules of the contract."""

    derived: tuple[tuple[str, str], ...]
    envelope: tuple[Rule, ...]
    events: dict[str, tuple[Rule, ...]]  # track event name -> rules of its properties
    traits: dict[str, tuple[Rule, ...]]  # call type (identify, ...) -> rules of its traits

    @property
    def identify(self) -> tuple[Rule, ...]:
        """The rules of an identify call's traits."""
        return self.traits.get("identify", ())

    def reject_reason(self) -> str:
        """One SQL expression: the first failing rule's reason, or NULL for a valid record."""
        groups: dict[tuple[Rule, ...], list[str]] = {}
        for name, rules in self.events.items():  # events sharing a properties model share their rules
            groups.setdefault(rules, []).append(name)
        per_event = " ".join(f"WHEN event IN {in_list(names)} THEN {case(list(rules))}"
                             for rules, names in groups.items())
        per_call = " ".join(f"WHEN type = {lit(kind)} THEN {case(list(rules))}"
                            for kind, rules in self.traits.items() if rules)
        body = f"CASE WHEN type = 'track' THEN CASE {per_event} END {per_call} END"
        return f"coalesce({case(list(self.envelope))}, {body})"

    def all_reasons(self) -> list[str]:
        """The reason SQL of every rule (literals for all but list items), e.g. to check their wording."""
        rules = [*self.envelope, *(r for rs in self.traits.values() for r in rs),
                 *(r for rs in self.events.values() for r in rs)]
        return [r.reason for r in rules]


def PROPERTIES_SCHEMA() -> str:
    """The typed struct ``from_json`` parses every event's properties into (column ``pt``)."""
    return typed_schema(list(event_property_specs().values()))


def TRAITS_SCHEMA() -> str:
    """The typed struct of modelled traits (identify calls; column ``tt``)."""
    return typed_schema([spec for spec in traits_models().values() if spec is not None])


def _field_names(schema: str) -> frozenset[str]:
    body = schema.removeprefix("struct<").removesuffix(">")
    names, depth, current = [], 0, ""
    for ch in body:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += ch
    names.append(current)
    return frozenset(n.split(":", 1)[0].strip() for n in names if n.strip())


#: how reasons name the envelope's identifier columns (the API's camelCase names)
ID_LABELS = {"user_id": "userId", "anonymous_id": "anonymousId", "previous_id": "previousId",
             "group_id": "groupId"}


def _in_calls(kinds: tuple[str, ...], rule: Rule) -> Rule:
    return Rule(f"type IN {in_list(kinds)} AND ({rule.failed})", rule.reason)


def _object_rule(column: str, kinds: tuple[str, ...] | None = None) -> Rule:
    rule = Rule.named(f"{column}: must be an object",
                      f"{column} IS NOT NULL AND from_json({column}, 'map<string,string>') IS NULL")
    return rule if kinds is None else _in_calls(kinds, rule)


@lru_cache(maxsize=1)
def contract_rules() -> RuleSet:
    """The contract's rules (built once per process).

    Envelope rules follow the call models (:data:`lakehouse.core.contract.envelope.CALL_MODELS`): the call
    types, the page/screen name and category limits, the ids a call type requires (alias: ``previousId`` and
    ``userId``; group: ``groupId``), and which calls carry ``properties`` and ``traits``.
    """
    limits = envelope_limits()
    low, high = time_bounds()
    ts = "try_to_timestamp(timestamp)"
    types = call_types()
    named = named_calls()
    required = [(kind, name) for kind, names in required_ids().items() for name in names]
    envelope = [
        Rule.named(LINE_ERROR, "_corrupt_record IS NOT NULL"),
        *_string_limit("event_id", "event_id", limits["identifier"], required=True),
        Rule.named("type: must be one of " + ", ".join(f"'{t}'" for t in types),
                   f"type IS NULL OR type NOT IN {in_list(types)}"),
        *[Rule(f"type = 'track' AND ({r.failed})", r.reason)
          for r in _string_limit("event", "event", limits["event"], required=True)],
        _in_calls(named, Rule.named(f"name: must have at most {limits['page_name']} characters",
                                    f"char_length({stripped('name')}) > {limits['page_name']}")),
        _in_calls(named, Rule.named(f"category: must have at most {limits['category']} characters",
                                    f"char_length({stripped('category')}) > {limits['category']}")),
        *[_in_calls((kind,), Rule.named(f"{ID_LABELS.get(name, name)}: is required",
                                        f"{name} IS NULL OR char_length({stripped(name)}) = 0"))
          for kind, name in required],
        *[rule for column in ("user_id", "anonymous_id", "previous_id", "group_id")
          for rule in _string_limit(column, ID_LABELS[column], limits["identifier"], required=False)],
        Rule.named("userId: userId or anonymousId is required", "user_id IS NULL AND anonymous_id IS NULL"),
        Rule.named("timestamp: is required", "timestamp IS NULL"),
        Rule.named(f"timestamp: must be an ISO 8601 time between {low} and {high}",
                   f"{ts} IS NULL OR {ts} < TIMESTAMP '{low} 00:00:00' OR {ts} >= TIMESTAMP '{high} 00:00:00'"),
        Rule.named("received_at: must be an ISO 8601 time",
                   "received_at IS NOT NULL AND try_to_timestamp(received_at) IS NULL"),
        _in_calls(calls_with_object("properties"),
                  Rule.named("properties: must be an object", "properties IS NOT NULL AND p IS NULL")),
        _in_calls(calls_with_object("traits"),
                  Rule.named("traits: must be an object", "traits IS NOT NULL AND tr IS NULL")),
        _object_rule("context"),
        _object_rule("integrations"),
    ]
    empty = "cast(map() AS map<string,string>)"
    props = Values(f"coalesce(p, {empty})", "pt", _field_names(PROPERTIES_SCHEMA()))
    traits = Values(f"coalesce(tr, {empty})", "tt", _field_names(TRAITS_SCHEMA()))
    events = {name: tuple(object_rules("properties", spec, props)) for name, spec in event_property_specs().items()}
    per_call = {kind: tuple(object_rules("traits", spec, traits)) if spec else ()
                for kind, spec in traits_models().items()}
    derived = tuple({**props.derived, **traits.derived}.items())
    return RuleSet(derived, tuple(envelope), events, per_call)


def schema_version_reason(versions: tuple[int, ...]) -> str:
    """SQL: the reason a record's ``schema_version`` is not one this job reads (NULL when it is, or absent)."""
    accepted = ", ".join(f"{v}.0D" for v in versions)
    label = " or ".join(str(v) for v in versions)
    return (f"CASE WHEN schema_version IS NOT NULL AND coalesce(try_cast(schema_version AS DOUBLE) NOT IN "
            f"({accepted}), true) THEN {lit(f'schema_version: must be {label}')} END")


def event_time_reason(future_tolerance_seconds: int, earliest_event_date: str) -> str:
    """SQL: the reason a record's (skew-corrected) ``timestamp`` is not believable, NULL when it is.

    The rule of ``Settings.event_time`` (:class:`lakehouse.core.contract.record.EventTimeRule`, which the API
    applies): more than ``future_tolerance_seconds`` after ``received_at`` (when the record has one), or before
    ``earliest_event_date`` (an ISO date, 00:00 UTC). Reasons are fixed texts (no per-record values) so that
    the run report can count them per rule.
    """
    ts, received = "try_to_timestamp(timestamp)", "try_to_timestamp(received_at)"
    future = (f"timestamp: more than {future_tolerance_seconds} seconds after the call was received; "
              "rule: event_time.future_tolerance_seconds")
    early = (f"timestamp: before the earliest accepted date {earliest_event_date}; "
             "rule: event_time.earliest_event_date")
    return (f"CASE WHEN {received} IS NOT NULL AND unix_micros({ts}) - unix_micros({received}) > "
            f"{future_tolerance_seconds * 1_000_000}L THEN {lit(future)} "
            f"WHEN {ts} < TIMESTAMP '{earliest_event_date} 00:00:00' THEN {lit(early)} END")
