//! REST and GraphQL agree on every resource of the registry: the same record read both ways
//! has the same fields with the same values, and the same list has the same records in the same
//! order. Walks `crm_gateway::registry::RESOURCES`, so a new resource is checked by being
//! registered (and fails here until tests/api/support.rs can build one).

use serde_json::{Map, Value, json};

use crate::support::*;

/// The GraphQL type of a field, unwrapped from lists and non-nulls: (kind, name).
fn named_type(t: &Value) -> (String, String) {
    let mut t = t;
    while t["ofType"].is_object() {
        t = &t["ofType"];
    }
    (s(&t["kind"]).to_string(), s(&t["name"]).to_string())
}

/// A selection of every field of `type_name` that takes no required argument: scalars and
/// enums as they are, objects (two levels deep, not connections or related nodes) with theirs.
fn selection(types: &[Value], type_name: &str, depth: usize) -> String {
    let t = types.iter().find(|t| t["name"] == type_name).unwrap_or_else(|| panic!("no type {type_name}"));
    let mut out = Vec::new();
    for f in t["fields"].as_array().unwrap() {
        let needs_args = f["args"].as_array().unwrap().iter().any(|a| a["type"]["kind"] == "NON_NULL");
        if needs_args {
            continue;
        }
        let name = s(&f["name"]);
        match named_type(&f["type"]) {
            (kind, _) if kind == "SCALAR" || kind == "ENUM" => out.push(name.to_string()),
            (kind, inner)
                if kind == "OBJECT" && depth < 2 && !inner.ends_with("Connection") && !inner.ends_with("Node") =>
            {
                out.push(format!("{name} {{ {} }}", selection(types, &inner, depth + 1)))
            }
            _ => {}
        }
    }
    out.join(" ")
}

/// The fields typed by an enum on `type_name` and on the objects it holds (not the related
/// records, `nodes`, whose fields REST does not embed): by name, as a field of another type
/// with the same name may be plain text (a lead's `source` is an enum, a consent's is not).
fn enum_fields(types: &[Value], type_name: &str, nodes: &[String], depth: usize, out: &mut Vec<String>) {
    let Some(t) = types.iter().find(|t| t["name"] == type_name) else { return };
    for f in t["fields"].as_array().cloned().unwrap_or_default() {
        match named_type(&f["type"]) {
            (kind, _) if kind == "ENUM" => out.push(s(&f["name"]).to_string()),
            (kind, inner)
                if kind == "OBJECT" && depth < 2 && !inner.ends_with("Connection") && !nodes.contains(&inner) =>
            {
                enum_fields(types, &inner, nodes, depth + 1, out)
            }
            _ => {}
        }
    }
}

/// A REST value as GraphQL writes it: keys in camelCase, enum values upper-cased (`enums`
/// names the camelCase fields that are enums).
fn as_graphql(v: &Value, enums: &[String], key: &str) -> Value {
    match v {
        Value::Object(o) => {
            let m: Map<String, Value> = o.iter().map(|(k, v)| (camel(k), as_graphql(v, enums, &camel(k)))).collect();
            Value::Object(m)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| as_graphql(x, enums, key)).collect()),
        Value::String(s) if enums.iter().any(|e| e == key) => Value::String(s.to_uppercase()),
        other => other.clone(),
    }
}

#[actix_web::test]
async fn every_registered_resource_reads_the_same_over_rest_and_graphql() {
    let app = spawn().await;
    let intro = app
        .gql(
            &app.admin,
            "{ __schema { types { name kind fields { name args { type { kind } } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }",
            json!({}),
        )
        .await;
    let types = intro["data"]["__schema"]["types"].as_array().unwrap().clone();
    let query_type = types.iter().find(|t| t["name"] == "Query").unwrap();
    let mut checked = Vec::new();
    let nodes: Vec<String> = crm_gateway::registry::RESOURCES
        .iter()
        .filter_map(|r| {
            query_type["fields"].as_array().unwrap().iter().find(|f| f["name"] == camel(r.graphql_one).as_str())
        })
        .map(|f| named_type(&f["type"]).1)
        .collect();
    for r in crm_gateway::registry::RESOURCES {
        let records = [app.build(r.entity, 1).await, app.build(r.entity, 2).await];
        let one = camel(r.graphql_one);
        let many = camel(r.graphql_many);
        let field = query_type["fields"].as_array().unwrap().iter().find(|f| f["name"] == one.as_str()).unwrap();
        let (_, node_type) = named_type(&field["type"]);
        // Fields typed by an enum, on the node or in the objects it holds.
        let mut enums = Vec::new();
        enum_fields(&types, &node_type, &nodes, 0, &mut enums);
        let sel = selection(&types, &node_type, 0);
        for record in &records {
            let id = s(&record["id"]);
            let rest = app.get(&format!("/api/v1{}/{id}", r.collection)).await.expect(200);
            let q = format!("query($id: UUID!) {{ {one}(id: $id) {{ {sel} }} }}");
            let g = app.gql(&app.admin, &q, json!({"id": id})).await;
            assert!(g["errors"].is_null(), "{}: {}", r.entity, g["errors"]);
            let node = &g["data"][one.as_str()];
            let expected = as_graphql(&rest, &enums, "");
            for (k, v) in expected.as_object().unwrap() {
                assert!(node.get(k).is_some(), "{}: REST field `{k}` is not on the GraphQL node", r.entity);
                assert_eq!(&node[k], v, "{}.{k}", r.entity);
            }
        }
        // The same list, in the same order.
        let rest_ids: Vec<Value> = app.get(&format!("/api/v1{}?limit=50", r.collection)).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].clone())
            .collect();
        let g = app.gql(&app.admin, &format!("{{ {many}(first: 50) {{ nodes {{ id }} }} }}"), json!({})).await;
        let gql_ids: Vec<Value> =
            g["data"][many.as_str()]["nodes"].as_array().unwrap().iter().map(|x| x["id"].clone()).collect();
        assert_eq!(gql_ids, rest_ids, "{}: list order", r.entity);
        assert!(rest_ids.len() >= 2, "{}: {rest_ids:?}", r.entity);
        checked.push(r.entity);
    }
    assert_eq!(checked.len(), crm_gateway::registry::RESOURCES.len());
}

#[actix_web::test]
async fn sales_views_agree_over_rest_and_graphql() {
    let app = spawn().await;
    let rep = app.user("Rep", json!({"subject": "rep", "team": "North"})).await;
    let acc = app.account("Buyer", json!({})).await;
    let p = app.pipeline("Main", json!({"is_default": true})).await;
    let won = p["stages"].as_array().unwrap().iter().find(|st| st["name"] == "Won").unwrap()["id"].clone();
    let deal =
        app.opportunity("Deal", &acc, &p, json!({"owner_id": rep["id"], "expected_close_date": "2026-11-20"})).await;
    app.opportunity("Open", &acc, &p, json!({"owner_id": rep["id"], "expected_close_date": "2026-11-25"})).await;
    app.patch(&format!("/api/v1/opportunities/{}", s(&deal["id"])), json!({"stage_id": won})).await.expect(200);
    app.quota(&rep, "2026-Q4", json!({})).await;

    let rest = app.get("/api/v1/forecast?period=2026-Q4&group_by=owner").await.expect(200);
    let g = app
        .gql(
            &app.admin,
            "{ forecast(period: \"2026-Q4\", groupBy: OWNER) { period groups { key label currency openDeals wonDeals
               closedWon { amountMinor currency } pipeline { amountMinor } weighted { amountMinor } quota { amountMinor } } } }",
            json!({}),
        )
        .await;
    assert!(g["errors"].is_null(), "{}", g["errors"]);
    let (rg, gg) = (&rest["groups"][0], &g["data"]["forecast"]["groups"][0]);
    assert_eq!(gg["key"], rg["key"]);
    assert_eq!(gg["label"], "Rep");
    for (gk, rk) in [("openDeals", "open_deals"), ("wonDeals", "won_deals")] {
        assert_eq!(gg[gk], rg[rk], "{gk}");
    }
    for (gk, rk) in
        [("closedWon", "closed_won"), ("pipeline", "pipeline"), ("weighted", "weighted"), ("quota", "quota")]
    {
        assert_eq!(gg[gk]["amountMinor"], rg[rk]["amount_minor"], "{gk}");
    }
    // Figures worked out by hand: one deal won (500,000), one open at 20 % (500,000 × 0.2).
    assert_eq!(rg["closed_won"]["amount_minor"], 500_000);
    assert_eq!(rg["weighted"]["amount_minor"], 100_000);
    assert_eq!(rg["quota"]["amount_minor"], 1_000_000);

    let rest = app.get("/api/v1/reports/sales?period=2026-Q4").await.expect(200);
    let g =
        app.gql(&app.admin, "{ salesReport(period: \"2026-Q4\") { period periodStart periodEnd } }", json!({})).await;
    let gr = &g["data"]["salesReport"];
    assert_eq!(
        (gr["period"].clone(), gr["periodStart"].clone(), gr["periodEnd"].clone()),
        (rest["period"].clone(), rest["period_start"].clone(), rest["period_end"].clone())
    );
}
