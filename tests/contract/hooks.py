"""Schemathesis hooks for the CRM contract run (see schemathesis.toml).

The run leaves out five parameters, for what a real client does with them and JSON Schema
cannot say:
- `Idempotency-Key` is unique per logical request; a key reused for a different request is
  refused with 422 IDEMPOTENCY_KEY_REUSED, by design (tests/api/sync.rs covers the protocol);
- `filter` follows a grammar and `cursor` is an opaque token from a previous page: the schema
  states their alphabet and length, not which strings parse (tests/api/lists.rs and the
  filter parser's property tests cover them);
- `near` and `bbox` (the lists of accounts, contacts and leads; region snapshots; visit
  suggestions) are location conditions of that grammar, with ranges and a rule across their
  numbers (a box's south edge below its north edge) that a pattern cannot state
  (tests/api/geo.rs, region_snapshot.rs and routes.rs cover them; schemathesis.toml lets the
  two geographic views answer for the parameters left out).
Everything else in the served document is fuzzed as published, except one consequence of
leaving `filter` out: sorting by an amount needs its currency pinned in `filter` (400
INVALID_SORT `currency_required` otherwise; tests/api/accounts.rs covers it), so the sort keys
that the document marks `x-sort-needs-currency` are dropped from generated sorts.
"""
import schemathesis

LEFT_OUT = {("header", "Idempotency-Key"), ("query", "filter"), ("query", "cursor"), ("query", "near"), ("query", "bbox")}
# Operation path -> the sort keys that need a currency pinned in `filter`.
NEEDS_CURRENCY = {}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    for path, item in raw_schema.get("paths", {}).items():
        for op in item.values():
            if isinstance(op, dict) and "parameters" in op:
                for p in op["parameters"]:
                    if (p.get("in"), p.get("name")) == ("query", "sort") and "x-sort-needs-currency" in p:
                        NEEDS_CURRENCY[path] = set(p["x-sort-needs-currency"])
                op["parameters"] = [
                    p for p in op["parameters"] if (p.get("in"), p.get("name")) not in LEFT_OUT
                ]


@schemathesis.hook
def map_query(context, query):
    keys = NEEDS_CURRENCY.get(context.operation.path) if context.operation else None
    if keys and query and isinstance(query.get("sort"), str):
        # The server trims each key, then reads its `+`/`-`: the same here.
        kept = [k for k in query["sort"].split(",") if k.strip().lstrip("+-") not in keys]
        query["sort"] = ",".join(kept)
    return query
