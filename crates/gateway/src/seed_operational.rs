//! The operational part of the demo set: staff, a product catalog, the contact history
//! (interactions), cases and purchases over the seeded contacts. Deterministic (fixed seed,
//! dates from 2026-01-01) and written through the same use cases as the API.

use crm_cases::{Case, CaseInput, CaseOrigin, CasePatch, CaseStatus, CaseType, Priority};
use crm_core::ids::{AccountId, ContactId, UserId};
use crm_core::{Actor, Money, Patch, Timestamp};
use crm_db::Db;
use crm_interactions::{Direction, Interaction, InteractionInput, InteractionType, Outcome};
use crm_products::{LineItemInput, Product, ProductInput, Purchase, PurchaseInput};
use crm_users::{Department, User, UserInput, UserRole};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What was seeded.
#[derive(Debug, Default)]
pub struct Seeded {
    pub users: usize,
    pub products: usize,
    pub interactions: usize,
    pub cases: usize,
    pub purchases: usize,
    pub opportunities: usize,
    pub leads: usize,
    pub campaigns: usize,
}

const STAFF: &[(&str, &str, UserRole, Department, &str)] = &[
    ("Ji-ho Park", "demo-sales-1", UserRole::Sales, Department::Sales, "KR"),
    ("Emma Clark", "demo-sales-2", UserRole::Sales, Department::Sales, "US"),
    ("Lukas Weber", "demo-sales-3", UserRole::Sales, Department::Sales, "DE"),
    ("Yui Tanaka", "demo-marketing-1", UserRole::Marketing, Department::Marketing, "JP"),
    ("Seo-yeon Kim", "demo-support-1", UserRole::Support, Department::Service, "KR"),
    ("Oliver Hall", "demo-support-2", UserRole::Support, Department::Service, "GB"),
    ("Hannah Becker", "demo-support-3", UserRole::Support, Department::Service, "DE"),
    ("Admin", "demo-admin", UserRole::Admin, Department::Management, "US"),
];

/// sku, name, family, list price and unit cost in whole US dollars.
const PRODUCTS: &[(&str, &str, &str, i64, i64)] = &[
    ("CRM-STARTER-12M", "Starter, 12 months", "Subscriptions", 240, 40),
    ("CRM-PRO-12M", "Pro, 12 months", "Subscriptions", 1200, 180),
    ("CRM-ENT-12M", "Enterprise, 12 months", "Subscriptions", 6000, 900),
    ("SEAT-PRO", "Extra Pro seat", "Seats", 99, 10),
    ("ONB-STD", "Standard onboarding", "Services", 1500, 900),
    ("ONB-PREM", "Premium onboarding", "Services", 4000, 2600),
    ("TRN-DAY", "Training day", "Services", 1200, 700),
    ("API-ADDON", "API add-on", "Add-ons", 300, 30),
    ("SMS-10K", "10k SMS credits", "Add-ons", 150, 90),
    ("SUP-PREM", "Premium support", "Support", 2000, 600),
    ("HW-SCAN", "Card scanner", "Hardware", 180, 110),
    ("HW-KIOSK", "Visitor kiosk", "Hardware", 2400, 1700),
];

const SUBJECTS: &[&str] = &[
    "Intro call",
    "Follow-up on the proposal",
    "Renewal discussion",
    "Pricing question",
    "Onboarding check-in",
    "Quarterly business review",
    "Product demo",
    "Contract redlines",
    "Support escalation",
    "Feature feedback",
];

const CASE_SUBJECTS: &[&str] = &[
    "Cannot log in",
    "Invoice shows the wrong VAT rate",
    "Export to CSV times out",
    "Request: dark mode",
    "Card scanner not detected",
    "Duplicate charge on the card",
    "How do I add a seat?",
    "Emails land in spam",
];

fn at(day: u32, minute: u32) -> Timestamp {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(8, 0, 0)).unwrap_or_default();
    let t = base + chrono::Duration::days(i64::from(day)) + chrono::Duration::minutes(i64::from(minute));
    crm_db::to_utc(t)
}

/// A moment `day` days after 2026-01-01 08:00 (negative: before), `minute` minutes later.
fn at_day(day: i64, minute: u32) -> Timestamp {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(8, 0, 0)).unwrap_or_default();
    crm_db::to_utc(base + chrono::Duration::days(day) + chrono::Duration::minutes(i64::from(minute)))
}

/// The days (from 2026-01-01) a customer bought on: a third buy once; the others buy at their
/// own pace (every 25 to 120 days, give or take half), until late November 2026 for regulars,
/// until some day in the past for the quarter who churned.
fn history(rng: &mut StdRng) -> Vec<i64> {
    let kind = rng.random_range(0..100);
    let first = rng.random_range(-540..250i64);
    if kind < 35 {
        return vec![first];
    }
    let end = if kind < 75 { 330 } else { rng.random_range((first + 60).min(200)..=200) };
    let pace = rng.random_range(25..120i64) as f64;
    let mut days = vec![first];
    let mut day = first as f64;
    while days.len() < 12 {
        day += pace * rng.random_range(0.5..1.5);
        if day as i64 > end {
            break;
        }
        days.push(day as i64);
    }
    if days.len() == 1 {
        days.push(first + pace as i64 / 2);
    }
    days
}

/// One to three lines: a product, often with the one it sells with (a Pro plan with extra
/// seats, Enterprise with premium onboarding, …: the affinities cross-selling finds).
fn basket(rng: &mut StdRng, products: &[Product]) -> Vec<LineItemInput> {
    const PAIRS: [(usize, usize, u32); 5] = [(1, 3, 70), (2, 5, 60), (0, 7, 40), (10, 11, 30), (4, 6, 50)];
    let line = |p: &Product, quantity: i64| LineItemInput { product_id: Some(p.id), quantity, ..Default::default() };
    let first = rng.random_range(0..products.len());
    let mut lines = vec![line(&products[first], rng.random_range(1..=3))];
    if let Some((_, with, chance)) = PAIRS.iter().find(|(a, ..)| *a == first)
        && rng.random_range(0..100) < *chance
        && *with < products.len()
    {
        lines.push(line(&products[*with], rng.random_range(1..=5)));
    }
    if rng.random_range(0..100) < 15 {
        let other = rng.random_range(0..products.len());
        if lines.iter().all(|l| l.product_id != Some(products[other].id)) {
            lines.push(line(&products[other], 1));
        }
    }
    lines
}

/// A product line for a deal's name.
fn pick_name(n: usize) -> &'static str {
    ["Platform", "Renewal", "Expansion", "Onboarding", "Add-on"][n % 5]
}

fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

/// Seeds the operational data over the contacts already in the database.
pub fn seed(db: &Db, interactions: usize, progress: &mut crate::progress::Progress) -> Result<Seeded, String> {
    let actor = Actor::system();
    let mut rng = StdRng::seed_from_u64(20261123);
    let mut out = Seeded::default();
    let people: Vec<(ContactId, Option<AccountId>)> = db
        .run_sync(|c| crm_contacts::read::all_with_accounts(c).map_err(crm_db::DbError::from))
        .map_err(|e| e.to_string())?;
    if people.is_empty() {
        return Ok(out);
    }

    progress.phase("staff and products", (STAFF.len() + PRODUCTS.len()) as u64);
    let (users, products) = db
        .transaction_sync(|c| -> Result<(Vec<User>, Vec<Product>), crm_records::RecordError> {
            let mut users = Vec::new();
            for (name, subject, role, department, country) in STAFF {
                users.push(crm_records::create::<User>(
                    c,
                    &actor,
                    UserInput {
                        name: Some(name.to_string()),
                        email: Some(format!("{subject}@crm.example")),
                        subject: Some(subject.to_string()),
                        role: Some(*role),
                        department: Some(*department),
                        territory: Some(country.to_string()),
                        team: Some(format!("{} {country}", department.as_str())),
                        ..Default::default()
                    },
                )?);
            }
            let mut products = Vec::new();
            for (sku, name, family, price, cost) in PRODUCTS {
                products.push(crm_records::create::<Product>(
                    c,
                    &actor,
                    ProductInput {
                        sku: Some(sku.to_string()),
                        name: Some(name.to_string()),
                        family: Some(family.to_string()),
                        list_price: Some(Money::new(price * 100, "USD")),
                        unit_cost: Some(Money::new(cost * 100, "USD")),
                        ..Default::default()
                    },
                )?);
            }
            Ok((users, products))
        })
        .map_err(|e| e.to_string())?;
    out.users = users.len();
    out.products = products.len();
    progress.inc((out.users + out.products) as u64);
    let reps: Vec<UserId> = users.iter().filter(|u| u.department != Some(Department::Service)).map(|u| u.id).collect();
    let agents: Vec<UserId> =
        users.iter().filter(|u| u.department == Some(Department::Service)).map(|u| u.id).collect();

    // The contact history, in transactions of 1000.
    let types = [
        InteractionType::Call,
        InteractionType::Email,
        InteractionType::Email,
        InteractionType::Meeting,
        InteractionType::Note,
        InteractionType::Visit,
        InteractionType::Sms,
        InteractionType::Chat,
        InteractionType::Web,
    ];
    let outcomes = [Outcome::Connected, Outcome::Voicemail, Outcome::NoAnswer, Outcome::Interested, Outcome::FollowUp];
    let mut made = 0;
    progress.phase("interactions", interactions as u64);
    while made < interactions {
        let n = (interactions - made).min(1000);
        let inputs: Vec<InteractionInput> = (0..n)
            .map(|_| {
                let (contact, _) = pick(&mut rng, &people);
                let kind = pick(&mut rng, &types);
                let direction = if rng.random_bool(0.6) { Direction::Outbound } else { Direction::Inbound };
                InteractionInput {
                    interaction_type: Some(kind),
                    direction: Some(direction),
                    subject: Some(pick(&mut rng, SUBJECTS).to_string()),
                    occurred_at: Some(at(rng.random_range(0..320), rng.random_range(0..600))),
                    duration_seconds: matches!(kind, InteractionType::Call | InteractionType::Meeting)
                        .then(|| rng.random_range(60..3600)),
                    outcome: (kind == InteractionType::Call).then(|| pick(&mut rng, &outcomes)),
                    contact_ids: vec![contact],
                    author_id: Some(pick(&mut rng, &reps)),
                    ..Default::default()
                }
            })
            .collect();
        db.transaction_sync(|c| -> Result<(), crm_records::RecordError> {
            for i in inputs {
                crm_records::create::<Interaction>(c, &actor, i)?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        made += n;
        progress.inc(n as u64);
    }
    out.interactions = made;

    // Cases for one contact in twenty; a third resolved.
    let case_types = [CaseType::Question, CaseType::Complaint, CaseType::Incident, CaseType::FeatureRequest];
    let priorities = [Priority::Low, Priority::Normal, Priority::Normal, Priority::High, Priority::Urgent];
    let origins = [CaseOrigin::Email, CaseOrigin::Phone, CaseOrigin::Web, CaseOrigin::Chat];
    let case_inputs: Vec<(CaseInput, bool)> = people
        .iter()
        .step_by(20)
        .map(|(contact, _)| {
            let input = CaseInput {
                subject: Some(pick(&mut rng, CASE_SUBJECTS).to_string()),
                case_type: Some(pick(&mut rng, &case_types)),
                priority: Some(pick(&mut rng, &priorities)),
                origin: Some(pick(&mut rng, &origins)),
                contact_id: Some(*contact),
                assignee_id: Some(pick(&mut rng, &agents)),
                ..Default::default()
            };
            (input, rng.random_bool(0.33))
        })
        .collect();
    progress.phase("cases", case_inputs.len() as u64);
    out.cases = db
        .transaction_sync(|c| -> Result<usize, crm_records::RecordError> {
            let n = case_inputs.len();
            for (input, resolve) in case_inputs {
                let case = crm_records::create::<Case>(c, &actor, input)?;
                if resolve {
                    let patch = CasePatch { status: Patch::Value(CaseStatus::Resolved), ..Default::default() };
                    crm_records::update::<Case>(c, &actor, case.id, patch, None)?;
                }
            }
            Ok(n)
        })
        .map_err(|e| e.to_string())?;

    // A purchase history for one contact in ten, shaped for the analytics (docs/ANALYTICS.md):
    // one-time buyers, regulars buying at their own pace until now, and churners who stopped.
    let purchase_inputs: Vec<PurchaseInput> = people
        .iter()
        .step_by(10)
        .flat_map(|(contact, _)| {
            history(&mut rng)
                .into_iter()
                .map(|day| PurchaseInput {
                    contact_id: Some(*contact),
                    ordered_at: Some(at_day(day, rng.random_range(0..600))),
                    lines: basket(&mut rng, &products),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    progress.inc(out.cases as u64);
    progress.phase("purchases", purchase_inputs.len() as u64);
    out.purchases = db
        .transaction_sync(|c| -> Result<usize, crm_records::RecordError> {
            let n = purchase_inputs.len();
            for input in purchase_inputs {
                crm_records::create::<Purchase>(c, &actor, input)?;
            }
            Ok(n)
        })
        .map_err(|e| e.to_string())?;

    // A pipeline, an opportunity for one contact in fifteen at various stages, and leads.
    // One deal per account, through its first contact among every fifteenth.
    let mut accounts_seen: Vec<AccountId> = Vec::new();
    let mut deal_inputs: Vec<(ContactId, Option<AccountId>, i64, u32, usize)> = Vec::new();
    for (contact, account) in people.iter().step_by(15) {
        let Some(a) = account else { continue };
        if accounts_seen.contains(a) {
            continue;
        }
        accounts_seen.push(*a);
        let stage = rng.random_range(0..5usize);
        deal_inputs.push((*contact, Some(*a), rng.random_range(5..200) * 100_000, rng.random_range(0..180), stage));
    }
    let lead_inputs: Vec<crm_sales::LeadInput> = (0..people.len() / 10)
        .map(|n| crm_sales::LeadInput {
            first_name: Some(pick(&mut rng, &["Alex", "Sam", "Jun", "Mia", "Lena", "Yuto"]).to_string()),
            last_name: Some(format!("Prospect {n}")),
            email: Some(format!("prospect{n}@lead{}.example", n % 97)),
            company: Some(format!("Lead Co {}", n % 97)),
            source: Some(pick(
                &mut rng,
                &[crm_sales::LeadSource::WebForm, crm_sales::LeadSource::Event, crm_sales::LeadSource::Referral],
            )),
            owner_id: Some(pick(&mut rng, &reps)),
            // Located from their city by the gazetteer.
            city: Some(crate::seed::demo_city(n).1.to_string()),
            region: Some(crate::seed::demo_city(n).2.to_string()),
            country: Some(crate::seed::demo_city(n).0.to_string()),
            ..Default::default()
        })
        .collect();
    progress.inc(out.purchases as u64);
    progress.phase("deals and leads", (deal_inputs.len() + lead_inputs.len()) as u64);
    let (opportunities, leads) = db
        .transaction_sync(|c| -> Result<(usize, usize), crm_records::RecordError> {
            let stages = [
                ("Qualify", 10, crm_sales::ForecastCategory::Pipeline, Some(14)),
                ("Propose", 40, crm_sales::ForecastCategory::BestCase, Some(21)),
                ("Negotiate", 70, crm_sales::ForecastCategory::Commit, Some(14)),
                ("Won", 100, crm_sales::ForecastCategory::ClosedWon, None),
                ("Lost", 0, crm_sales::ForecastCategory::ClosedLost, None),
            ];
            let pipeline = crm_records::create::<crm_sales::Pipeline>(
                c,
                &actor,
                crm_sales::PipelineInput {
                    name: Some("New business".into()),
                    is_default: Some(true),
                    stages: stages
                        .iter()
                        .map(|(name, p, cat, days)| crm_sales::StageInput {
                            id: None,
                            name: name.to_string(),
                            probability: *p,
                            forecast_category: *cat,
                            expected_days: *days,
                        })
                        .collect(),
                    ..Default::default()
                },
            )?;
            let base = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default();
            for (n, (contact, account, amount, day, stage)) in deal_inputs.iter().enumerate() {
                let o = crm_records::create::<crm_sales::Opportunity>(
                    c,
                    &actor,
                    crm_sales::OpportunityInput {
                        name: Some(format!("{} deal #{}", pick_name(n), n + 1)),
                        contact_id: Some(*contact),
                        account_id: *account,
                        amount: Some(Money::new(*amount, "USD")),
                        expected_close_date: Some(base + chrono::Duration::days(i64::from(*day))),
                        owner_id: Some(reps[*stage % reps.len()]),
                        ..Default::default()
                    },
                )?;
                let target = pipeline.stages[*stage].id;
                if *stage > 0 {
                    let lost = pipeline.stages[*stage].forecast_category == crm_sales::ForecastCategory::ClosedLost;
                    let patch = crm_sales::OpportunityPatch {
                        stage_id: Patch::Value(target),
                        loss_reason: if lost { Patch::Value("price".into()) } else { Patch::Absent },
                        ..Default::default()
                    };
                    crm_records::update::<crm_sales::Opportunity>(c, &actor, o.id, patch, None)?;
                }
            }
            let n = lead_inputs.len();
            for l in lead_inputs {
                crm_records::create::<crm_sales::Lead>(c, &actor, l)?;
            }
            Ok((deal_inputs.len(), n))
        })
        .map_err(|e| e.to_string())?;
    out.opportunities = opportunities;
    out.leads = leads;
    progress.inc((opportunities + leads) as u64);
    progress.phase("campaigns", 5);
    let (campaigns, bought) =
        db.transaction_sync(|c| seed_campaigns(c, &actor, &mut rng, &products)).map_err(|e| e.to_string())?;
    out.campaigns = campaigns;
    out.purchases += bought;
    progress.inc(out.campaigns as u64);
    progress.finish();
    Ok(out)
}

/// Three segments and four campaigns over the seeded base: a completed newsletter with its
/// results (purchases after a click, attributed to it: returned as the second count), a running phone wave of the same programme, a cross-sell email planned against a
/// purchase criterion and a postal mailing scheduled to a snapshot.
fn seed_campaigns(
    c: &mut crm_db::AnyConnection,
    actor: &Actor,
    rng: &mut StdRng,
    products: &[Product],
) -> Result<(usize, usize), crm_records::RecordError> {
    use crm_campaigns::members::{self, MemberStatus, ResponseInput, ResponseType};
    use crm_campaigns::{Campaign, CampaignInput, CampaignPatch, CampaignStatus, CampaignType, Channel, CostLineInput};
    use crm_campaigns::{Segment, SegmentInput, SegmentKind};
    let segment = |c: &mut crm_db::AnyConnection, name: &str, criteria: &str, kind| {
        crm_records::create::<Segment>(
            c,
            actor,
            SegmentInput {
                name: Some(name.into()),
                criteria: Some(criteria.into()),
                kind: Some(kind),
                ..Default::default()
            },
        )
    };
    let customers = segment(c, "Customers", "lifecycle_stage[eq]:customer", SegmentKind::Dynamic)?;
    let gold = segment(
        c,
        "Decision makers at gold and platinum accounts",
        "and(or(title[contains]:director,title[contains]:head,title[contains]:chief),account.tier[in]:[gold,platinum])",
        SegmentKind::Dynamic,
    )?;
    let subscribers =
        segment(c, "Subscription buyers", "purchases.lines.product.family[eq]:Subscriptions", SegmentKind::Snapshot)?;
    let cost = |minor: i64, day: u32, what: &str| CostLineInput {
        channel: None,
        amount: Money::new(minor, "USD"),
        spent_on: chrono::NaiveDate::from_ymd_opt(2026, 10, day).unwrap_or_default(),
        description: Some(what.into()),
    };
    let new = |name: &str, kind, channel, segment: &Segment, parent: Option<&Campaign>| CampaignInput {
        name: Some(name.into()),
        campaign_type: Some(kind),
        channel: Some(channel),
        segment_ids: vec![segment.id],
        parent_id: parent.map(|p| p.id),
        ..Default::default()
    };
    let status = |s| CampaignPatch { status: Patch::Value(s), ..Default::default() };

    // The autumn programme: a newsletter (completed, with results) and a phone wave.
    let mut programme = new("Autumn programme", CampaignType::Retention, Channel::Email, &customers, None);
    programme.objective = Some("Keep customers renewing before year end".into());
    let programme = crm_records::create::<Campaign>(c, actor, programme)?;
    let mut letter = new("Autumn newsletter", CampaignType::Newsletter, Channel::Email, &customers, Some(&programme));
    letter.planned_budget = Some(Money::new(300_000, "USD"));
    letter.expected_responses = Some(60);
    letter.expected_conversions = Some(10);
    letter.expected_revenue = Some(Money::new(1_000_000, "USD"));
    letter.costs = vec![cost(120_000, 1, "Design and copy"), cost(45_000, 8, "Sending platform")];
    let letter = crm_records::create::<Campaign>(c, actor, letter)?;
    crm_records::update::<Campaign>(c, actor, letter.id, status(CampaignStatus::Running), None)?;
    let targeted = members::list(c, actor, letter.id, Some(MemberStatus::Targeted), None, 1000)?;
    // Members who click and then buy within the attribution window: the purchase converts them.
    let mut buyers = Vec::new();
    let responses: Vec<ResponseInput> = targeted
        .data
        .iter()
        .filter_map(|m| {
            let roll = rng.random_range(0..100);
            let (status, response_type) = match roll {
                0..=2 => (MemberStatus::Bounced, None),
                3..=4 => (MemberStatus::Unsubscribed, None),
                5..=6 => {
                    buyers.push((m.contact_id, 300 + rng.random_range(0..15)));
                    (MemberStatus::Clicked, None)
                }
                7..=14 => (MemberStatus::Responded, Some(ResponseType::Replied)),
                15..=29 => (MemberStatus::Clicked, None),
                30..=54 => (MemberStatus::Opened, None),
                55..=96 => (MemberStatus::Delivered, None),
                _ => return None,
            };
            Some(ResponseInput {
                contact_id: m.contact_id,
                status,
                response_type,
                bounce_kind: None,
                at: Some(at(290 + rng.random_range(0..10), rng.random_range(0..600))),
                note: None,
            })
        })
        .collect();
    // A small demo base still shows a conversion: its first clicker buys.
    if buyers.is_empty()
        && let Some(first) = responses.iter().find(|r| r.status == MemberStatus::Clicked)
    {
        buyers.push((first.contact_id, 300));
    }
    if !responses.is_empty() {
        members::record_responses(c, actor, letter.id, responses)?;
    }
    let usd: Vec<&Product> =
        products.iter().filter(|p| p.list_price.as_ref().is_some_and(|m| m.currency == "USD")).collect();
    let mut bought = 0;
    for (contact, day) in buyers.into_iter().filter(|_| !usd.is_empty()) {
        let product = usd[rng.random_range(0..usd.len())];
        let input = PurchaseInput {
            reference: Some(format!("WEB-{:05}", bought + 1)),
            contact_id: Some(contact),
            ordered_at: Some(at(day, 0)),
            lines: vec![LineItemInput {
                product_id: Some(product.id),
                quantity: rng.random_range(1..=3),
                ..Default::default()
            }],
            ..Default::default()
        };
        crm_records::create::<Purchase>(c, actor, input)?;
        bought += 1;
    }
    crm_records::update::<Campaign>(c, actor, letter.id, status(CampaignStatus::Completed), None)?;
    let mut calls = new("Autumn renewal calls", CampaignType::Retention, Channel::Phone, &gold, Some(&programme));
    calls.costs = vec![cost(80_000, 15, "Call centre hours")];
    let calls = crm_records::create::<Campaign>(c, actor, calls)?;
    crm_records::update::<Campaign>(c, actor, calls.id, status(CampaignStatus::Running), None)?;

    // Planned and scheduled; the planned email wave has its template (it goes out when launched
    // on a server with CRM_SMTP_URL).
    let onboarding = crm_records::create::<crm_campaigns::EmailTemplate>(
        c,
        actor,
        crm_campaigns::EmailTemplateInput {
            name: Some("Subscriber onboarding".into()),
            subject: Some("{{ contact.first_name }}, get more from your subscription".into()),
            html: Some(
                "<p>Dear {{ contact.first_name }},</p>\n<p>Thank you for subscribing{% if account %} at {{ account.name }}{% endif %}. \
                 Our onboarding sessions show your team the features most customers miss.</p>\n\
                 <p><a href=\"https://example.com/onboarding\">Book a session</a></p>\n\
                 <p><a href=\"{{ response_url }}\">Ask us to call you</a> · <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>"
                    .into(),
            ),
            text: Some(
                "Dear {{ contact.first_name }},\n\nBook an onboarding session: https://example.com/onboarding\n\n\
                 Unsubscribe: {{ unsubscribe_url }}"
                    .into(),
            ),
            tags: vec!["onboarding".into()],
            ..Default::default()
        },
    )?;
    let mut cross = new("Onboarding for subscribers", CampaignType::CrossSell, Channel::Email, &subscribers, None);
    cross.email_template_id = Some(onboarding.id);
    cross.planned_budget = Some(Money::new(150_000, "USD"));
    cross.expected_conversions = Some(25);
    crm_records::create::<Campaign>(c, actor, cross)?;
    let post = crm_records::create::<Campaign>(
        c,
        actor,
        new("Year-end card", CampaignType::Event, Channel::Post, &subscribers, None),
    )?;
    crm_records::update::<Campaign>(c, actor, post.id, status(CampaignStatus::Scheduled), None)?;
    Ok((5, bought))
}
