//! What every operation shares, written into the document once: the statuses the server's
//! common machinery can answer with (authentication, scopes, the JSON body extractor, query
//! parameters, `If-Match`, `Idempotency-Key`, the database), errors as `application/problem+json`,
//! and the exact formats of the list parameters, computed from the same catalogs the server
//! checks them against. An operation's own annotations say only what is particular to it.

use crm_core::filter::FieldDef;
use serde_json::{Map, Value, json};

use crate::registry::{RESOURCES, Resource};

/// Operations that need no token.
const PUBLIC: &[&str] = &["/healthz", "/readyz"];

const PROBLEM: &str = "application/problem+json";

/// Fields a record cannot be created without, which its Rust input holds as optional (so that
/// the rules can name what is missing): `(schema, property, what it takes)`. Rules that tie
/// several fields together (a contact needs a name or an email) stay in the descriptions.
const REQUIRED: &[(&str, &str, Required)] = &[
    ("ActivityInput", "type", Required::Value),
    ("ActivityInput", "subject", Required::Text),
    ("CaseInput", "subject", Required::Text),
    ("InteractionInput", "type", Required::Value),
    ("ProductInput", "sku", Required::Text),
    ("ProductInput", "name", Required::Text),
    ("PipelineInput", "name", Required::Text),
    ("PipelineInput", "stages", Required::List),
    ("OpportunityInput", "name", Required::Text),
    ("TargetListInput", "name", Required::Text),
    ("TargetListInput", "period_start", Required::Value),
    ("TargetListInput", "period_end", Required::Value),
    ("QuotaInput", "period", Required::Value),
    ("QuotaInput", "amount", Required::Value),
    ("UserInput", "name", Required::Text),
    ("CommentInput", "body", Required::Text),
    ("PurchaseInput", "lines", Required::List),
    ("CustomFieldInput", "resource", Required::Value),
    ("CustomFieldInput", "name", Required::Text),
    ("CustomFieldInput", "type", Required::Value),
    ("WebhookInput", "url", Required::Text),
    ("WebhookInput", "event_types", Required::List),
];

#[derive(Clone, Copy)]
enum Required {
    /// Text with something besides white space (the rules trim it).
    Text,
    /// Any value but null.
    Value,
    /// A list of at least one item.
    List,
}

/// White space as the server trims it (Unicode `White_Space`).
const NON_BLANK: &str = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// Completes `doc` (the document as generated from the route annotations).
pub fn complete(doc: &mut Value) {
    require_fields(doc);
    let schemas = doc.pointer("/components/schemas").cloned().unwrap_or_else(|| json!({}));
    let mut inputs = Vec::new();
    let mut selections = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, op) in item.iter_mut() {
                if !matches!(method.as_str(), "get" | "put" | "post" | "patch" | "delete") {
                    continue;
                }
                complete_operation(path, method, op, &schemas);
                collect_refs(&op["requestBody"], &mut inputs);
                if let Some(sel) = select_fields(op, &schemas) {
                    selections.push(sel);
                }
            }
        }
    }
    if let Some(components) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        components.values_mut().for_each(open_free_objects);
        close_inputs(components, inputs);
        for (name, schema) in selections {
            components.entry(name).or_insert(schema);
        }
    }
}

fn require_fields(doc: &mut Value) {
    for (schema, field, kind) in REQUIRED {
        if doc.pointer(&format!("/components/schemas/{schema}")).is_none() {
            panic!("REQUIRED names {schema}, which the document does not have");
        }
        require(doc, schema, field, *kind, true);
        // A merge patch may leave the field out, not clear it.
        require(doc, &schema.replace("Input", "Patch"), field, *kind, false);
    }
}

fn require(doc: &mut Value, schema: &str, field: &str, kind: Required, in_required: bool) {
    {
        let Some(s) = doc.pointer_mut(&format!("/components/schemas/{schema}")) else { return };
        let Some(prop) = s["properties"].get_mut(field) else { panic!("{schema} has no property {field}") };
        // `["string", "null"]` → `"string"`; `oneOf: [X, null]` → X.
        if let Some(types) = prop["type"].as_array() {
            let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            prop["type"] = if kept.len() == 1 { kept[0].clone() } else { Value::Array(kept) };
        }
        if let Some(one_of) = prop["oneOf"].as_array().cloned() {
            let kept: Vec<Value> = one_of.into_iter().filter(|t| t["type"] != "null").collect();
            if let [only] = kept.as_slice() {
                let description = prop.get("description").cloned();
                *prop = only.clone();
                if let Some(d) = description {
                    prop["description"] = d;
                }
            }
        }
        match kind {
            Required::Text => {
                prop["minLength"] = json!(1);
                prop["pattern"] = json!(NON_BLANK);
            }
            Required::List => prop["minItems"] = json!(1),
            Required::Value => {}
        }
        if !in_required {
            return;
        }
        let required = s.as_object_mut().map(|o| o.entry("required").or_insert_with(|| json!([])));
        if let Some(list) = required.and_then(Value::as_array_mut)
            && !list.iter().any(|r| r == field)
        {
            list.push(json!(field));
        }
    }
}

/// Two readings the generated schemas get wrong for clients: `default: null` on an optional
/// field (absent already means null in an input, and in a merge patch absent means unchanged,
/// not null; generators also read a default as "always present"), and a free-form object
/// (`custom_fields`) written `{"type": "object"}`, which generators read as "no properties
/// allowed". Free-form objects say `additionalProperties: true`.
fn open_free_objects(schema: &mut Value) {
    match schema {
        Value::Object(o) => {
            if o.get("default") == Some(&Value::Null) {
                o.remove("default");
            }
            let is_object = match o.get("type") {
                Some(Value::String(t)) => t == "object",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
                _ => false,
            };
            if is_object && !o.contains_key("properties") && !o.contains_key("additionalProperties") {
                o.insert("additionalProperties".into(), json!(true));
            }
            o.values_mut().for_each(open_free_objects);
        }
        Value::Array(a) => a.iter_mut().for_each(open_free_objects),
        _ => {}
    }
}

/// Every component a schema refers to.
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(name) =
                o.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
            o.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Request bodies refuse unknown fields (a typo is an error, not silently dropped): every object
/// a body can hold says `additionalProperties: false`, except the parts of an `allOf`.
fn close_inputs(components: &mut Map<String, Value>, mut pending: Vec<String>) {
    let mut seen = Vec::new();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let Some(schema) = components.get_mut(&name) else { continue };
        let mut refs = Vec::new();
        collect_refs(schema, &mut refs);
        close(schema);
        pending.extend(refs);
    }
}

fn close(schema: &mut Value) {
    let Some(o) = schema.as_object_mut() else { return };
    if o.contains_key("properties") && !o.contains_key("additionalProperties") {
        o.insert("additionalProperties".into(), json!(false));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(parts) = o.get_mut(key).and_then(Value::as_array_mut) {
            parts.iter_mut().for_each(close);
        }
    }
    if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(close);
    }
    if let Some(items) = o.get_mut("items") {
        close(items);
    }
}

/// With `fields=`, a record holds only the fields asked for (and `id`): the 200 answer of an
/// operation that takes `fields` is the full record or such a selection. Returns the selection
/// component to add.
fn select_fields(op: &mut Value, schemas: &Value) -> Option<(String, Value)> {
    let takes_fields = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "fields"));
    let ok = op.pointer_mut("/responses/200/content/application~1json/schema")?;
    let name = ok["$ref"].as_str()?.strip_prefix("#/components/schemas/")?.to_string();
    if !takes_fields {
        return None;
    }
    let schema = schemas.get(&name)?;
    let is_list = schema["properties"]["data"]["items"].is_object();
    let record = if is_list { &schema["properties"]["data"]["items"] } else { schema };
    let mut props = Vec::new();
    properties(record, schemas, &mut props);
    let mut all = Map::new();
    for p in &props {
        // Each selected field has the type it has in the full record.
        all.insert(p.clone(), property_schema(record, schemas, p).unwrap_or_else(|| json!({})));
    }
    let selection = json!({
        "type": "object",
        "description": "A record with only the fields `fields=` selects (and `id`).",
        "required": ["id"],
        "properties": all,
    });
    let (sel_name, sel_schema) = if is_list {
        let mut list = schema.clone();
        list["properties"]["data"]["items"] = selection;
        list["description"] = json!("A page whose records hold only the fields `fields=` selects.");
        (format!("{name}Selection"), list)
    } else {
        (format!("{name}Selection"), selection)
    };
    *ok = json!({"anyOf": [
        {"$ref": format!("#/components/schemas/{name}")},
        {"$ref": format!("#/components/schemas/{sel_name}")},
    ]});
    Some((sel_name, sel_schema))
}

/// The schema of property `name` of `schema`, through `$ref`s and `allOf`s.
fn property_schema(schema: &Value, schemas: &Value, name: &str) -> Option<Value> {
    if let Some(target) = component(&schema["$ref"], schemas) {
        return property_schema(target, schemas, name);
    }
    if let Some(p) = schema["properties"].get(name) {
        return Some(p.clone());
    }
    schema["allOf"].as_array()?.iter().find_map(|part| property_schema(part, schemas, name))
}

fn complete_operation(path: &str, method: &str, op: &mut Value, schemas: &Value) {
    let public = PUBLIC.contains(&path);
    let keyed = matches!(method, "post" | "put" | "patch");
    let resource = resource_of(path);
    let fields = response_fields(op, schemas);
    let Some(op) = op.as_object_mut() else { return };
    if public {
        op.insert("security".into(), json!([]));
    }
    let has_body = op.contains_key("requestBody");
    let params = op.entry("parameters").or_insert_with(|| json!([]));
    if let Some(list) = params.as_array_mut() {
        for p in list.iter_mut() {
            refine_parameter(p, resource, &fields);
        }
        if keyed && !public {
            list.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "Makes a retry safe: the first answer is kept for 24 hours and replayed \
                    for the same key, method, path and body (`Idempotency-Replayed: true`).",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            }));
        }
    }
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    if params.is_empty() {
        op.remove("parameters");
    }
    let named = |n: &str| params.iter().any(|p| p["name"] == n);
    let in_query = params.iter().any(|p| p["in"] == "query");
    let in_path = params.iter().any(|p| p["in"] == "path");
    let if_match = named("If-Match");

    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    // Errors are problem documents.
    for (status, r) in responses.iter_mut() {
        if let Some(content) = r.get_mut("content").and_then(Value::as_object_mut)
            && content.get("application/json").is_some_and(|c| c["schema"]["$ref"] == "#/components/schemas/Problem")
            && let Some(c) = content.remove("application/json")
        {
            content.insert(PROBLEM.into(), c);
        }
        if r.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
            r["description"] = json!(status_description(status));
        }
    }

    let mut bad_request = vec!["INVALID_PARAMETER"];
    if has_body {
        bad_request.push("MALFORMED_JSON");
    }
    for (param, code) in [("filter", "INVALID_FILTER"), ("sort", "INVALID_SORT"), ("cursor", "INVALID_CURSOR")] {
        if named(param) {
            bad_request.push(code);
        }
    }
    if if_match {
        bad_request.push("INVALID_IF_MATCH");
    }
    if keyed && !public {
        bad_request.push("INVALID_IDEMPOTENCY_KEY");
    }
    if in_query || has_body || if_match || (keyed && !public) {
        error(responses, "400", "Bad request", &bad_request);
    }
    if !public {
        error(responses, "401", "No valid bearer token (`WWW-Authenticate: Bearer`)", &["UNAUTHENTICATED"]);
        error(
            responses,
            "403",
            "The token lacks the scope this needs, or the API key may not be used from this address",
            &["FORBIDDEN", "ADDRESS_NOT_ALLOWED"],
        );
        error(
            responses,
            "429",
            "Past the caller's rate limit (`RateLimit-Policy`); retry after `Retry-After` seconds",
            &["RATE_LIMITED"],
        );
    }
    if in_path || path.ends_with("/batch") {
        error(responses, "404", "No such record (a malformed id is one)", &["NOT_FOUND"]);
    }
    if named("external_id") {
        error(responses, "422", "The external id is malformed", &["VALIDATION_FAILED"]);
    }
    if has_body {
        error(responses, "413", "The body is too large", &["PAYLOAD_TOO_LARGE"]);
        error(responses, "415", "The body is not `application/json`", &["UNSUPPORTED_MEDIA_TYPE"]);
        error(responses, "422", "The body is invalid", &["VALIDATION_FAILED", "INVALID_BODY"]);
    }
    if keyed && !public {
        error(responses, "409", "Conflict", &["IDEMPOTENCY_KEY_IN_USE"]);
        error(responses, "422", "Unprocessable", &["IDEMPOTENCY_KEY_REUSED"]);
    }
    if if_match {
        error(
            responses,
            "412",
            "The record is not at the `If-Match` version; the body has `current_version`",
            &["VERSION_CONFLICT"],
        );
    }
    if path != "/healthz" {
        error(responses, "500", "An unexpected failure (details only in the server log)", &["INTERNAL"]);
        error(
            responses,
            "503",
            "The database is unavailable; retry after `Retry-After` seconds",
            &["DATABASE_UNAVAILABLE"],
        );
    }
}

/// Adds `status` with a problem body if the operation does not list it, and names the codes it
/// carries in its description.
fn error(responses: &mut Map<String, Value>, status: &str, summary: &str, codes: &[&str]) {
    let r = responses.entry(status).or_insert_with(|| json!({"description": summary}));
    let codes: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    let description = r.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).unwrap_or(summary);
    let description = if codes.iter().all(|c| description.contains(c.as_str())) {
        description.to_string()
    } else {
        let missing: Vec<&str> =
            codes.iter().filter(|c| !description.contains(c.as_str())).map(String::as_str).collect();
        format!("{description}: {}", missing.join(", "))
    };
    r["description"] = json!(description);
    if let Some(content) =
        r.as_object_mut().and_then(|o| o.entry("content").or_insert_with(|| json!({})).as_object_mut())
    {
        content.remove("application/json");
        content.insert(PROBLEM.into(), json!({"schema": {"$ref": "#/components/schemas/Problem"}}));
    }
    if status == "401" {
        r["headers"]["WWW-Authenticate"] = json!({"schema": {"type": "string", "const": "Bearer"}});
    }
    if status == "503" || status == "429" {
        r["headers"]["Retry-After"] = json!({"schema": {"type": "integer", "minimum": 1}});
    }
    if status == "429" {
        r["headers"]["RateLimit-Policy"] = json!({
            "description": "The caller's quota per window (IETF draft-ietf-httpapi-ratelimit-headers): `\"caller\";q=1200;w=60`",
            "schema": {"type": "string"}
        });
        r["headers"]["RateLimit"] = json!({
            "description": "Requests left and seconds until the quota is whole again: `\"caller\";r=0;t=12`",
            "schema": {"type": "string"}
        });
    }
}

fn status_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "Done; no body",
        "304" => "Not modified: the record is still at the `If-None-Match` version",
        "400" => "Bad request",
        "404" => "Not found",
        "409" => "Conflict with the current state",
        "412" => "Precondition failed",
        "413" => "Too large",
        "422" => "Well-formed, but against a rule (the problem's `errors` name the fields)",
        "429" => "Too many requests",
        _ => "See the problem's `code`",
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// The resource whose records a path lists or reads: the last literal segment names its
/// collection (`/api/v1/accounts/{id}/contacts` lists contacts).
fn resource_of(path: &str) -> Option<&'static Resource> {
    // One resource's custom fields: the custom-field definitions.
    let path = if path.starts_with("/api/v1/schema/") && path.ends_with("/fields") { "/custom-fields" } else { path };
    let last = path.split('/').rev().find(|s| !s.is_empty() && !s.starts_with('{'))?;
    RESOURCES.iter().find(|r| r.collection.trim_start_matches('/') == last)
}

/// The component a `$ref` names.
fn component<'a>(r: &Value, schemas: &'a Value) -> Option<&'a Value> {
    r.as_str().and_then(|r| r.strip_prefix("#/components/schemas/")).and_then(|n| schemas.get(n))
}

/// The properties of a schema, through `$ref`s and `allOf`s.
fn properties(schema: &Value, schemas: &Value, out: &mut Vec<String>) {
    if let Some(target) = component(&schema["$ref"], schemas) {
        return properties(target, schemas, out);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        properties(part, schemas, out);
    }
    for name in schema["properties"].as_object().into_iter().flat_map(|p| p.keys()) {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
}

/// The property names of the record an operation returns (a list's items, or the record).
fn response_fields(op: &Value, schemas: &Value) -> Vec<String> {
    let ok = &op["responses"]["200"]["content"]["application/json"]["schema"];
    let items = component(&ok["$ref"], schemas).map(|list| &list["properties"]["data"]["items"]);
    let mut out = Vec::new();
    match items {
        Some(items) if !items.is_null() => properties(items, schemas, &mut out),
        _ => properties(ok, schemas, &mut out),
    }
    out
}

/// The `sort` parameter of a list whose records sort by `fields` (the sortable ones of them):
/// its pattern, and the amounts that sort only with their currency pinned.
pub(super) fn describe_sort<'a>(p: &mut Value, fields: impl Iterator<Item = &'a FieldDef>) {
    let sortable: Vec<&FieldDef> = fields.filter(|f| f.sortable).collect();
    let names: Vec<String> = sortable.iter().map(|f| f.name.to_string()).collect();
    // Up to four keys, then optionally `id` (always the final tie-breaker).
    let key = format!(r"[+-]?({})", alternatives(&names));
    let id = r"[+-]?id";
    p["schema"]["pattern"] = json!(format!(r"^\s*$|^\s*{id}\s*$|^\s*{key}(\s*,\s*{key}){{0,3}}(\s*,\s*{id})?\s*$"));
    // Amounts sort only with their currency pinned by `filter` (400 otherwise), a rule across
    // parameters that JSON Schema cannot state: named for clients.
    let money: Vec<&str> = sortable.iter().filter(|f| f.currency.is_some()).map(|f| f.name).collect();
    if let Some(o) = p.as_object_mut() {
        if money.is_empty() {
            o.remove("x-sort-needs-currency");
        } else {
            o.insert("x-sort-needs-currency".into(), json!(money));
        }
    }
}

fn alternatives(names: &[String]) -> String {
    let mut names: Vec<String> = names.iter().map(|n| regex_escape(n)).collect();
    // Longest first, so a regex engine that takes the first match takes the whole name.
    names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    names.join("|")
}

fn regex_escape(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_ascii_alphanumeric() || c == '_' { vec![c] } else { vec!['\\', c] }).collect()
}

/// A comma-separated list of `names` as the server reads it (items trimmed, empty items skipped).
fn list_pattern(names: &[String]) -> String {
    let one = alternatives(names);
    format!(r"^\s*({one})?\s*(,\s*({one})?\s*)*$")
}

/// Text without the NUL character, which no query value may hold.
const NO_NUL: &str = r"^[^\x00]*$";

fn refine_parameter(p: &mut Value, resource: Option<&'static Resource>, fields: &[String]) {
    let name = p["name"].as_str().unwrap_or_default().to_string();
    let set = |p: &mut Value, schema: Value| {
        if let (Some(s), Some(extra)) = (p["schema"].as_object_mut(), schema.as_object()) {
            s.extend(extra.clone());
        }
    };
    match (p["in"].as_str().unwrap_or_default(), name.as_str()) {
        ("header", "If-Match") => {
            p["schema"] = json!({"type": "string", "pattern": r#"^\s*(\*|(W/)?"[0-9]{1,18}")?\s*$"#});
        }
        ("query", "limit") if p["schema"]["minimum"] == 0 => set(p, json!({"minimum": 1})),
        ("query", "cursor") => set(p, json!({"maxLength": 4096, "pattern": "^[A-Za-z0-9_-]*$"})),
        // Query values may not hold NUL (400 `control_character`); other text is the search's.
        ("query", "q") => set(p, json!({"maxLength": 200, "pattern": NO_NUL})),
        // The server takes 8 KiB of UTF-8; 2,048 characters always fit.
        ("query", "filter") => set(p, json!({"maxLength": crm_core::filter::MAX_FILTER_LEN / 4, "pattern": NO_NUL})),
        ("query", "archived") => set(p, json!({"enum": ["false", "true", "only"]})),
        ("query", "sort") => {
            if let Some(r) = resource {
                describe_sort(p, (r.catalog)().fields.iter());
            }
        }
        ("query", "include") => {
            if let Some(r) = resource {
                let names: Vec<String> = r.includable.iter().map(|s| s.to_string()).collect();
                if names.is_empty() {
                    set(p, json!({"pattern": r"^[\s,]*$"}));
                } else {
                    set(p, json!({"pattern": list_pattern(&names)}));
                }
            }
        }
        ("query", "fields") if !fields.is_empty() => {
            let mut names = fields.to_vec();
            if let Some(r) = resource {
                names.extend(r.includable.iter().map(|s| s.to_string()));
            }
            set(p, json!({"pattern": list_pattern(&names)}));
        }
        ("query", "types") => {
            // An entity, singular or plural, optionally with an action (`contact.updated`).
            let mut names = Vec::new();
            for (e, _) in crm_events::ENTITIES {
                names.push(e.to_string());
                names.push(crm_events::plural(e));
            }
            let one = format!(r"({})(\.[^,]*)?", alternatives(&names));
            set(p, json!({"pattern": format!(r"^\s*({one})?\s*(,\s*({one})?\s*)*$")}));
        }
        ("query", "due[lte]" | "due[gte]") => {
            p["schema"] = json!({"anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
                {"type": "string", "pattern": "^now([+-][0-9]{1,5}[mhdw])?$"},
                {"type": "string", "maxLength": 0, "description": "Empty: no bound."},
            ]});
        }
        ("query", "assignee") => set(
            p,
            json!({"pattern": "^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"}),
        ),
        ("path", "source") => set(p, json!({"pattern": "^[A-Za-z0-9_.-]{1,50}$"})),
        ("path", "external_id") => set(
            p,
            json!({"minLength": 1, "maxLength": 255, "pattern": r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"}),
        ),
        _ => {}
    }
}
