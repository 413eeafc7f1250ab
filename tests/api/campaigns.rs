//! Campaign management end to end: segment criteria across relations, inclusions, exclusions
//! and snapshots; a campaign's workflow, members with consent enforced per channel, responses
//! and statistics checked against figures worked out by hand.

use serde_json::{Value, json};

use crate::support::*;

fn ids(page: &Value) -> Vec<String> {
    let mut v: Vec<String> = page["data"].as_array().unwrap().iter().map(|c| s(&c["id"]).to_string()).collect();
    v.sort();
    v
}

fn sorted(v: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|c| s(&c["id"]).to_string()).collect();
    v.sort();
    v
}

async fn preview(app: &TestApp, criteria: &str) -> Value {
    app.post("/api/v1/segments/preview?limit=100", json!({"criteria": criteria})).await.expect(200)
}

#[actix_web::test]
async fn segment_criteria_follow_relations_to_one_and_to_many() {
    let app = spawn().await;
    let gold_seoul = app.account("Gold Seoul", json!({"tier": "gold", "city": "Seoul"})).await;
    let gold_busan = app.account("Gold Busan", json!({"tier": "gold", "city": "Busan"})).await;
    let silver_seoul = app.account("Silver Seoul", json!({"tier": "silver", "city": "Seoul"})).await;
    let a = app.contact("Ada", "Director", json!({"account_id": gold_seoul["id"], "title": "Sales Director"})).await;
    let b = app.contact("Bo", "Clerk", json!({"account_id": gold_seoul["id"], "title": "Clerk"})).await;
    let c = app.contact("Cy", "Director", json!({"account_id": gold_busan["id"], "title": "Director"})).await;
    let d = app.contact("Di", "Director", json!({"account_id": silver_seoul["id"], "title": "Director"})).await;
    let e = app.contact("Ed", "Nobody", json!({})).await;

    // To one, grouped: the decision makers of gold accounts in Seoul.
    let p = preview(&app, "and(title[contains]:director,account(tier[eq]:gold,city[eq]:Seoul))").await;
    assert_eq!((p["count"].as_i64(), ids(&p)), (Some(1), sorted(&[&a])));

    // To many: purchases, their lines and products.
    let analytics = app.product("AN-1", json!({"family": "analytics"})).await;
    let other = app.product("OT-1", json!({"family": "hardware"})).await;
    let buy = |contact: &Value, product: &Value, at: &str| json!({"contact_id": contact["id"], "ordered_at": at, "lines": [{"product_id": product["id"], "quantity": 1}]});
    // Ada: analytics long ago, hardware recently. Bo: analytics recently. Cy: nothing.
    app.post("/api/v1/purchases", buy(&a, &analytics, "2025-01-10T10:00:00Z")).await.expect(201);
    app.post("/api/v1/purchases", buy(&a, &other, "2026-09-01T10:00:00Z")).await.expect(201);
    app.post("/api/v1/purchases", buy(&b, &analytics, "2026-10-01T10:00:00Z")).await.expect(201);
    let p = preview(&app, "purchases.lines.product.family[eq]:analytics").await;
    assert_eq!(ids(&p), sorted(&[&a, &b]));
    // One purchase both recent and of the family: only Bo's.
    let p = preview(&app, "purchases(ordered_at[gte]:2026-06-01,lines.product.family[eq]:analytics)").await;
    assert_eq!(ids(&p), sorted(&[&b]));
    // Two separate paths may be satisfied by two purchases: Ada too.
    let p = preview(&app, "purchases.ordered_at[gte]:2026-06-01,purchases.lines.product.family[eq]:analytics").await;
    assert_eq!(ids(&p), sorted(&[&a, &b]));
    // No purchase since June: everyone but Ada and Bo.
    let p = preview(&app, "not(purchases.ordered_at[gte]:2026-06-01)").await;
    assert_eq!(ids(&p), sorted(&[&c, &d, &e]));

    // Interactions, through the participants.
    app.interaction(&c, json!({"type": "call", "occurred_at": "2026-11-01T09:00:00Z"})).await;
    app.interaction(&d, json!({"type": "email", "occurred_at": "2026-11-02T09:00:00Z"})).await;
    let p = preview(&app, "interactions(type[eq]:call,occurred_at[gte]:2026-10-01)").await;
    assert_eq!(ids(&p), sorted(&[&c]));
    let p = preview(&app, "interactions.occurred_at[gte]:2026-10-01").await;
    assert_eq!(ids(&p), sorted(&[&c, &d]));

    // The same filters in a contact list would be refused: the list catalog is the contact's.
    let bad = app.post("/api/v1/segments/preview", json!({"criteria": "purchases(shoe[eq]:1)"})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["criteria"]);
    assert_eq!(bad["errors"][0]["code"], "unknown_field");
    let bad = app.post("/api/v1/segments/preview", json!({"criteria": "and(title[eq]:x"})).await.expect(422);
    assert_eq!(bad["errors"][0]["code"], "syntax");

    // A reader without products:read may not filter on purchases.
    let sales_only = token(&app.keys, "u", &[], &["campaigns:read", "contacts:read"]);
    let r = app
        .call(
            awc::http::Method::POST,
            "/api/v1/segments/preview",
            Some(&sales_only),
            Some(json!({"criteria": "purchases.ordered_at[gte]:2026-01-01"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A snapshot taken through purchases is read through them too.
    let snap =
        app.segment("Buyers", json!({"criteria": "purchases.ordered_at[gte]:2026-01-01", "kind": "snapshot"})).await;
    let r = app
        .call(
            awc::http::Method::GET,
            &format!("/api/v1/segments/{}/members", s(&snap["id"])),
            Some(&sales_only),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // GraphQL: an empty relation input adds no condition (it does not mean "has an account").
    let g = app.gql(&app.admin, "{ contacts(where: {account: {tier: null}}) { nodes { id } } }", json!({})).await;
    assert_eq!(g["data"]["contacts"]["nodes"].as_array().map(Vec::len), Some(5), "{g}");
}

#[actix_web::test]
async fn segments_include_exclude_and_snapshot() {
    let app = spawn().await;
    let mut seoul = Vec::new();
    for i in 0..5 {
        seoul.push(app.contact(&format!("S{i}"), "Seoul", json!({"city": "Seoul"})).await);
    }
    let busan = app.contact("B", "Busan", json!({"city": "Busan", "tags": ["vip"]})).await;
    let vip = app.segment("VIP", json!({"criteria": "tags[eq]:vip"})).await;
    let opted = app.segment("Opted out", json!({"criteria": "email_consent[eq]:opted_out"})).await;
    app.patch(&format!("/api/v1/contacts/{}", s(&seoul[0]["id"])), json!({"email_consent": "opted_out"}))
        .await
        .expect(200);

    // Seoul plus the VIPs, minus the opted out.
    let seg = app
        .segment(
            "Seoul and VIPs",
            json!({"criteria": "city[eq]:Seoul", "include_segment_ids": [vip["id"]], "exclude_segment_ids": [opted["id"]]}),
        )
        .await;
    let path = format!("/api/v1/segments/{}/members?limit=2", s(&seg["id"]));
    let first = app.get(&path).await.expect(200);
    assert_eq!(first["total"], 5);
    let bad = app.get(&format!("/api/v1/segments/{}/members?limit=0", s(&seg["id"]))).await.expect(400);
    assert_eq!(error_fields(&bad), vec!["limit"]);
    app.post("/api/v1/segments/preview?limit=1001", json!({})).await.expect(400);
    // Keyset pages of 2 cover everyone once, in id order.
    let mut all: Vec<String> = Vec::new();
    let mut url = path.clone();
    loop {
        let page = app.get(&url).await.expect(200);
        all.extend(page["data"].as_array().unwrap().iter().map(|c| s(&c["id"]).to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{path}&after={c}"),
            None => break,
        }
    }
    let mut expected: Vec<&Value> = seoul[1..].iter().collect();
    expected.push(&busan);
    assert_eq!(all, sorted(&expected));

    // A cycle is refused, as is a missing segment.
    let bad =
        app.patch(&format!("/api/v1/segments/{}", s(&vip["id"])), json!({"include_segment_ids": [seg["id"]]})).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["errors"][0]["code"], "cycle");
    let bad = app
        .post("/api/v1/segments", json!({"name": "x", "exclude_segment_ids": ["01a20352-0000-7000-8000-000000000000"]}))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    // A snapshot keeps its members; a dynamic segment follows the data.
    let snap = app.segment("Seoul now", json!({"criteria": "city[eq]:Seoul", "kind": "snapshot"})).await;
    assert_eq!(snap["member_count"], 5);
    assert!(snap["snapshot_at"].is_string());
    let dynamic = app.segment("Seoul always", json!({"criteria": "city[eq]:Seoul"})).await;
    app.contact("New", "Seoul", json!({"city": "Seoul"})).await;
    let snap_members = app.get(&format!("/api/v1/segments/{}/members", s(&snap["id"]))).await.expect(200);
    assert_eq!(snap_members["total"], 5);
    let dyn_members = app.get(&format!("/api/v1/segments/{}/members", s(&dynamic["id"]))).await.expect(200);
    assert_eq!(dyn_members["total"], 6);
    let retaken = app.post(&format!("/api/v1/segments/{}/snapshot", s(&snap["id"])), json!({})).await.expect(200);
    assert_eq!(retaken["member_count"], 6);
    assert_eq!(retaken["version"], 2);
    let r = app.post(&format!("/api/v1/segments/{}/snapshot", s(&dynamic["id"])), json!({})).await.expect(409);
    assert_eq!(r["code"], "SEGMENT_NOT_SNAPSHOT");
}

/// What a member list says of each contact: `(status, exclusion_reason)`.
async fn members_by_contact(app: &TestApp, campaign: &Value) -> std::collections::HashMap<String, (String, Value)> {
    let page = app.get(&format!("/api/v1/campaigns/{}/members?limit=1000", s(&campaign["id"]))).await.expect(200);
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (s(&m["contact_id"]).to_string(), (s(&m["status"]).to_string(), m["exclusion_reason"].clone())))
        .collect()
}

#[actix_web::test]
async fn consent_is_enforced_per_channel() {
    let app = spawn().await;
    let addr = json!({"street": "1 Main St", "postal_code": "04524", "city": "Seoul", "country": "KR"});
    let with = |extra: Value| {
        let mut b = json!({"phone": "+82 2 312 3456", "city": "Seoul"});
        merge(&mut b, addr.clone());
        merge(&mut b, extra);
        b
    };
    let ok = app.contact("Ok", "Reach", with(json!({"email": "ok@x.example"}))).await;
    let email_out = app
        .contact(
            "Mail",
            "Out",
            with(json!({"email": "out@x.example", "email_consent": "opted_out", "street": "2 Main St"})),
        )
        .await;
    let all_out = app
        .contact(
            "All",
            "Out",
            with(json!({"email": "all@x.example", "marketing_opt_out": true, "street": "3 Main St"})),
        )
        .await;
    let no_call = app
        .contact("No", "Call", with(json!({"email": "nc@x.example", "do_not_call": true, "street": "4 Main St"})))
        .await;
    let no_mail = app
        .contact("No", "Mail", with(json!({"email": "nm@x.example", "do_not_mail": true, "street": "5 Main St"})))
        .await;
    let bare = app.contact("Bare", "Contact", json!({"city": "Seoul"})).await;
    // Same household as `ok` (address written differently).
    let housemate = app.contact("House", "Mate", with(json!({"email": "hm@x.example", "street": "1  main st"}))).await;
    let seg = app.segment("Seoul", json!({"criteria": "city[eq]:Seoul"})).await;

    let launch = |channel: &str| json!({"name": format!("{channel} wave"), "type": "retention", "channel": channel, "segment_ids": [seg["id"]]});
    let mut by_channel = std::collections::HashMap::new();
    for channel in ["email", "phone", "post"] {
        let c = app.campaign(&format!("{channel} wave"), launch(channel)).await;
        app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "scheduled"})).await.expect(200);
        by_channel.insert(channel, members_by_contact(&app, &c).await);
    }
    let reason = |channel: &str, c: &Value| {
        let (status, reason) = &by_channel[channel][s(&c["id"])];
        if status == "excluded" { reason.as_str().unwrap().to_string() } else { status.clone() }
    };
    let expect = [
        (&ok, ["targeted", "targeted", "targeted"]),
        (&email_out, ["opted_out", "targeted", "targeted"]),
        (&all_out, ["opted_out", "opted_out", "opted_out"]),
        (&no_call, ["targeted", "do_not_call", "targeted"]),
        (&no_mail, ["targeted", "targeted", "do_not_mail"]),
        (&bare, ["no_address", "no_address", "no_address"]),
        (&housemate, ["targeted", "targeted", "duplicate_household"]),
    ];
    for (contact, want) in expect {
        let got: Vec<String> = ["email", "phone", "post"].iter().map(|ch| reason(ch, contact)).collect();
        assert_eq!(got, want, "{} {}", contact["first_name"], contact["last_name"]);
    }
}

#[actix_web::test]
async fn a_campaign_runs_through_its_workflow_and_its_stats_add_up() {
    let app = spawn().await;
    let mut people = Vec::new();
    for i in 0..4 {
        people.push(
            app.contact(&format!("P{i}"), "Target", json!({"email": format!("p{i}@t.example"), "tags": ["spring"]}))
                .await,
        );
    }
    let out = app
        .contact("Opted", "Out", json!({"email": "o@t.example", "tags": ["spring"], "email_consent": "opted_out"}))
        .await;
    let seg = app.segment("Spring", json!({"criteria": "tags[eq]:spring"})).await;
    let late = app.contact("Late", "Comer", json!({"email": "late@t.example"})).await;
    let c = app
        .campaign(
            "Spring",
            json!({"segment_ids": [seg["id"]], "planned_budget": {"amount_minor": 20000, "currency": "EUR"},
                   "expected_responses": 4, "expected_conversions": 1,
                   "costs": [{"amount": {"amount_minor": 10000, "currency": "EUR"}, "spent_on": "2026-11-02", "description": "Design"},
                             {"amount": {"amount_minor": 5000, "currency": "EUR"}, "spent_on": "2026-11-03"}]}),
        )
        .await;
    assert_eq!(c["status"], "planned");
    assert_eq!(c["costs"][0]["channel"], "email");
    let path = format!("/api/v1/campaigns/{}", s(&c["id"]));

    // Not scheduled without a segment; not straight to completed.
    let r = app.patch(&path, json!({"status": "completed"})).await.expect(422);
    assert_eq!(r["code"], "INVALID_TRANSITION");
    // Responses wait for the launch.
    let r = app
        .post(&format!("{path}/responses"), json!({"responses": [{"contact_id": people[0]["id"], "status": "sent"}]}))
        .await
        .expect(409);
    assert_eq!(r["code"], "CAMPAIGN_NOT_RUNNING");

    // A late comer added by hand before launch: the channel is then fixed.
    let added = app.post(&format!("{path}/members"), json!({"contact_ids": [late["id"]]})).await.expect(200);
    assert_eq!(added["added"], 1);
    let r = app.patch(&path, json!({"channel": "phone"})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_CHANNEL_FIXED");
    // Scheduled, then someone opts out before the launch: the launch checks consent again.
    app.patch(&path, json!({"status": "scheduled"})).await.expect(200);
    let quitter = app.contact("Quits", "Late", json!({"email": "quit@t.example", "tags": ["spring"]})).await;
    app.patch(&path, json!({"status": "planned"})).await.expect(200);
    app.patch(&path, json!({"status": "scheduled"})).await.expect(200);
    let by = members_by_contact(&app, &c).await;
    assert_eq!(by[s(&quitter["id"])].0, "targeted");
    app.patch(&format!("/api/v1/contacts/{}", s(&quitter["id"])), json!({"marketing_opt_out": true})).await.expect(200);
    let running = app.patch(&path, json!({"status": "running"})).await.expect(200);
    let by = members_by_contact(&app, &c).await;
    assert_eq!(by[s(&quitter["id"])], ("excluded".to_string(), json!("opted_out")));
    assert!(running["launched_at"].is_string());
    let members = app.get(&format!("{path}/members")).await.expect(200);
    assert_eq!(members["total"], 7);
    let r = app.post(&format!("{path}/members"), json!({"contact_ids": [out["id"]]})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_ALREADY_LAUNCHED");
    let r = app.patch(&path, json!({"segment_ids": []})).await.expect(409);
    assert_eq!(r["code"], "CAMPAIGN_ALREADY_LAUNCHED");

    // An excluded member takes no response; all or none.
    let r = app
        .post(
            &format!("{path}/responses"),
            json!({"responses": [{"contact_id": people[0]["id"], "status": "sent"}, {"contact_id": out["id"], "status": "sent"}]}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&r), vec!["responses[1].contact_id"]);
    assert_eq!(r["errors"][0]["code"], "member_excluded");
    let m = app.get(&format!("{path}/members?status=sent")).await.expect(200);
    assert_eq!(m["total"], 0);

    // P0 clicked and replied, P1 bounced hard, P2 opened, P3 was delivered and unsubscribed;
    // the late comer was sent and bought.
    let resp = |c: &Value, status: &str, extra: Value| {
        let mut r = json!({"contact_id": c["id"], "status": status});
        merge(&mut r, extra);
        r
    };
    let batch = json!({"responses": [
        resp(&people[0], "clicked", json!({})),
        resp(&people[0], "responded", json!({"response_type": "requested_call", "note": "call me Tuesday"})),
        resp(&people[1], "bounced", json!({"bounce_kind": "hard"})),
        resp(&people[2], "opened", json!({})),
        resp(&people[3], "delivered", json!({})),
        resp(&people[3], "unsubscribed", json!({})),
        resp(&late, "converted", json!({})),
        resp(&people[2], "opened", json!({})),
    ]});
    let r = app.post(&format!("{path}/responses"), batch).await.expect(200);
    assert_eq!((r["changed"].as_i64(), r["unchanged"].as_i64()), (Some(7), Some(1)));
    let by = members_by_contact(&app, &c).await;
    let status = |c: &Value| by[s(&c["id"])].0.clone();
    assert_eq!(
        [&people[0], &people[1], &people[2], &people[3], &late, &out].map(status),
        ["responded", "bounced", "opened", "unsubscribed", "converted", "excluded"].map(String::from)
    );
    // The unsubscribe withdrew the email consent.
    let p3 = app.get(&format!("/api/v1/contacts/{}", s(&people[3]["id"]))).await.expect(200);
    assert_eq!(p3["email_consent"], "opted_out");
    // The member's history, oldest first.
    let h = app.get(&format!("{path}/members/{}/history", s(&people[0]["id"]))).await.expect(200);
    let steps: Vec<&str> = h.as_array().unwrap().iter().map(|e| s(&e["status"])).collect();
    assert_eq!(steps, ["targeted", "clicked", "responded"]);
    assert_eq!(h[2]["detail"], "call me Tuesday");

    // The figures, by hand: 7 members, 2 excluded (opted out) → 5 targeted. Sent: P0..P3 and
    // the late comer = 5. Delivered: P0 (click), P2 (open), P3, late (conversion) = 4; P1
    // bounced. Opened: P0, P2 = 2. Clicked: P0 = 1. Responded: P0 = 1. Converted: late = 1.
    // Unsubscribed: P3 = 1. Cost 100.00 + 50.00 = 150.00 EUR.
    let stats = app.get(&format!("{path}/stats")).await.expect(200);
    let t = &stats["total"];
    let figures: Vec<i64> = [
        "targeted",
        "excluded",
        "sent",
        "delivered",
        "bounced",
        "opened",
        "clicked",
        "responded",
        "converted",
        "unsubscribed",
    ]
    .iter()
    .map(|k| t[k].as_i64().unwrap())
    .collect();
    assert_eq!(figures, vec![5, 2, 5, 4, 1, 2, 1, 1, 1, 1]);
    assert_eq!(t["excluded_by_reason"], json!([{"reason": "opted_out", "count": 2}]));
    // bounce 1/5 = 2000 bp; open 2/4 = 5000; click 1/4 = 2500; response 1/5 = 2000; conversion 1/5 = 2000.
    let rates: Vec<i64> = ["bounce_rate_bp", "open_rate_bp", "click_rate_bp", "response_rate_bp", "conversion_rate_bp"]
        .iter()
        .map(|k| t[k].as_i64().unwrap())
        .collect();
    assert_eq!(rates, vec![2000, 5000, 2500, 2000, 2000]);
    assert_eq!(t["cost"], json!([{"amount_minor": 15000, "currency": "EUR"}]));
    assert_eq!(t["cost_per_response"], json!([{"amount_minor": 15000, "currency": "EUR"}]));
    assert_eq!(t["cost_per_conversion"], json!([{"amount_minor": 15000, "currency": "EUR"}]));
    assert_eq!(stats["channels"].as_array().unwrap().len(), 1);
    assert_eq!(stats["channels"][0]["channel"], "email");
    // Plan: budget 200.00 vs 150.00 spent = 7500 bp; responses 1 of 4 = 2500; conversions 1 of 1.
    let plan: Vec<(String, i64, Value)> = stats["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (s(&p["figure"]).to_string(), p["actual"].as_i64().unwrap(), p["attainment_bp"].clone()))
        .collect();
    assert_eq!(
        plan,
        vec![
            ("budget".into(), 15000, json!(7500)),
            ("responses".into(), 1, json!(2500)),
            ("conversions".into(), 1, json!(10000))
        ]
    );

    // A later email campaign excludes the hard bounce.
    let next = app.campaign("Summer", json!({"segment_ids": [seg["id"]]})).await;
    app.patch(&format!("/api/v1/campaigns/{}", s(&next["id"])), json!({"status": "scheduled"})).await.expect(200);
    let by = members_by_contact(&app, &next).await;
    assert_eq!(by[s(&people[1]["id"])], ("excluded".to_string(), json!("bounced_before")));
    assert_eq!(by[s(&people[3]["id"])], ("excluded".to_string(), json!("opted_out")));

    // Member changes are in the change feed: the exclusion at launch and the 7 responses.
    let feed = app.get("/api/v1/changes?types=campaign_member.updated&limit=100").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 8);

    // A programme counts its waves: the parent's stats include the child's members.
    let programme = app.campaign("Programme", json!({"segment_ids": [seg["id"]]})).await;
    app.patch(&path, json!({"parent_id": programme["id"]})).await.expect(200);
    let ps = app.get(&format!("/api/v1/campaigns/{}/stats", s(&programme["id"]))).await.expect(200);
    assert_eq!(ps["total"]["targeted"], 5);
    assert_eq!(ps["campaign_ids"].as_array().unwrap().len(), 2);
    let r = app
        .patch(&format!("/api/v1/campaigns/{}", s(&programme["id"])), json!({"parent_id": c["id"]}))
        .await
        .expect(422);
    assert_eq!(r["errors"][0]["code"], "cycle");

    // GraphQL reads the same figures and members.
    let q = "query($id: UUID!) { campaign(id: $id) { stats { total { targeted responseRateBp cost { amountMinor currency } } }
        members(status: RESPONDED) { totalCount nodes { contact { id } responseType } } } }";
    let g = app.gql(&app.admin, q, json!({"id": c["id"]})).await;
    assert!(g.get("errors").is_none(), "{g}");
    assert_eq!(g["data"]["campaign"]["stats"]["total"]["targeted"], 5);
    assert_eq!(g["data"]["campaign"]["stats"]["total"]["responseRateBp"], 2000);
    assert_eq!(g["data"]["campaign"]["members"]["totalCount"], 1);
    assert_eq!(g["data"]["campaign"]["members"]["nodes"][0]["contact"]["id"], people[0]["id"]);
    assert_eq!(g["data"]["campaign"]["members"]["nodes"][0]["responseType"], "REQUESTED_CALL");
    let g = app
        .gql(&app.admin, "{ segmentPreview(draft: {criteria: \"tags[eq]:spring\"}) { count nodes { id } } }", json!({}))
        .await;
    assert_eq!(g["data"]["segmentPreview"]["count"], 6, "{g}");
}
