//! `crm seed --demo`: a realistic, deterministic demo data set.

use crm_accounts::{AccountInput, Tier};
use crm_contacts::{ContactInput, EmailConsent, LifecycleStage};
use crm_core::{Actor, Money};
use crm_db::Db;
use crm_records::custom::{CustomField, CustomFieldInput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Country {
    code: &'static str,
    currency: &'static str,
    tld: &'static str,
    cities: &'static [(&'static str, &'static str, f64, f64)],
    first: &'static [&'static str],
    last: &'static [&'static str],
    phone: fn(&mut StdRng) -> String,
}

const KO_FIRST: &[&str] = &[
    "민준", "서연", "도윤", "지우", "하준", "서윤", "예준", "하은", "시우", "지민", "주원", "수아", "지호", "유진",
    "현우", "채원",
];
const KO_LAST: &[&str] = &["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오"];
const EN_FIRST: &[&str] = &[
    "James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "Lucas", "Mia",
    "Mason", "Amelia", "Ethan", "Harper",
];
const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor", "Clark",
    "Walker", "Hall", "Young",
];
const DE_FIRST: &[&str] = &["Lukas", "Mia", "Leon", "Hannah", "Finn", "Emilia", "Paul", "Lea", "Jonas", "Lena"];
const DE_LAST: &[&str] = &["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"];
const JA_FIRST: &[&str] = &["Haruto", "Yui", "Sota", "Hina", "Yuto", "Aoi", "Riku", "Mei"];
const JA_LAST: &[&str] = &["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"];

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

const COUNTRIES: &[Country] = &[
    Country {
        code: "KR",
        currency: "KRW",
        tld: "co.kr",
        cities: &[
            ("Seoul", "Seoul", 37.5665, 126.978),
            ("Busan", "Busan", 35.1796, 129.0756),
            ("Incheon", "Incheon", 37.4563, 126.7052),
            ("Daegu", "Daegu", 35.8714, 128.6014),
            ("Daejeon", "Daejeon", 36.3504, 127.3845),
        ],
        first: KO_FIRST,
        last: KO_LAST,
        phone: |r| format!("+82 10-{}-{}", digits(r, 4), digits(r, 4)),
    },
    Country {
        code: "US",
        currency: "USD",
        tld: "com",
        cities: &[
            ("New York", "NY", 40.7128, -74.006),
            ("San Francisco", "CA", 37.7749, -122.4194),
            ("Chicago", "IL", 41.8781, -87.6298),
            ("Austin", "TX", 30.2672, -97.7431),
        ],
        first: EN_FIRST,
        last: EN_LAST,
        phone: |r| format!("+1 212-{}{}-{}", r.random_range(2..10u8), digits(r, 2), digits(r, 4)),
    },
    Country {
        code: "GB",
        currency: "GBP",
        tld: "co.uk",
        cities: &[
            ("London", "England", 51.5074, -0.1278),
            ("Manchester", "England", 53.4808, -2.2426),
            ("Edinburgh", "Scotland", 55.9533, -3.1883),
        ],
        first: EN_FIRST,
        last: EN_LAST,
        phone: |r| format!("+44 20 7946 {}", digits(r, 4)),
    },
    Country {
        code: "DE",
        currency: "EUR",
        tld: "de",
        cities: &[
            ("Berlin", "Berlin", 52.52, 13.405),
            ("Munich", "Bavaria", 48.1351, 11.582),
            ("Hamburg", "Hamburg", 53.5511, 9.9937),
        ],
        first: DE_FIRST,
        last: DE_LAST,
        phone: |r| format!("+49 30 {}", digits(r, 8)),
    },
    Country {
        code: "JP",
        currency: "JPY",
        tld: "co.jp",
        cities: &[("Tokyo", "Tokyo", 35.6762, 139.6503), ("Osaka", "Osaka", 34.6937, 135.5023)],
        first: JA_FIRST,
        last: JA_LAST,
        phone: |r| format!("+81 3-{}-{}", digits(r, 4), digits(r, 4)),
    },
];

const COMPANY_A: &[&str] = &[
    "Hanbit",
    "Blue",
    "Nova",
    "Summit",
    "Crescent",
    "Evergreen",
    "Pioneer",
    "Silver",
    "Orion",
    "Harbor",
    "Maple",
    "Atlas",
    "Vertex",
    "Lumen",
    "Cedar",
    "Apex",
];
const COMPANY_B: &[&str] = &[
    "Systems",
    "Logistics",
    "Foods",
    "Health",
    "Robotics",
    "Energy",
    "Retail",
    "Labs",
    "Finance",
    "Media",
    "Motors",
    "Pharma",
];
const INDUSTRIES: &[&str] = &[
    "software",
    "logistics",
    "food",
    "healthcare",
    "manufacturing",
    "energy",
    "retail",
    "research",
    "finance",
    "media",
    "automotive",
    "pharma",
];
const TITLES: &[&str] = &[
    "CEO",
    "CTO",
    "Head of Sales",
    "Procurement Manager",
    "Marketing Lead",
    "Engineer",
    "Operations Manager",
    "Buyer",
    "CFO",
    "Support Lead",
];
const DEPARTMENTS: &[&str] =
    &["Executive", "Engineering", "Sales", "Purchasing", "Marketing", "Operations", "Finance", "Support"];

/// A seeding failure, as text for the operator.
struct SeedError(String);

impl SeedError {
    fn of(e: impl std::fmt::Display) -> SeedError {
        SeedError(e.to_string())
    }
}

impl From<crm_db::DbError> for SeedError {
    fn from(e: crm_db::DbError) -> Self {
        SeedError::of(e)
    }
}

impl From<diesel::result::Error> for SeedError {
    fn from(e: diesel::result::Error) -> Self {
        SeedError::of(e)
    }
}

pub const DEMO_ACCOUNTS: usize = 300;
pub const DEMO_CONTACTS_PER_ACCOUNT: usize = 10;

/// Accounts per transaction when seeding.
const SEED_CHUNK: usize = 500;

/// The custom fields of the demo: what a company typically adds to its accounts and contacts.
fn demo_custom_fields() -> serde_json::Value {
    let options = |v: &[(&str, &str)]| -> Vec<serde_json::Value> {
        v.iter().map(|(value, label)| serde_json::json!({"value": value, "label": label})).collect()
    };
    serde_json::json!([
        {"resource": "accounts", "name": "segment", "label": "Segment", "type": "enum", "required": true,
         "default": "smb", "position": 1, "description": "By head count: under 200, under 2,000, above.",
         "options": options(&[("smb", "Small business"), ("mid_market", "Mid-market"), ("enterprise", "Enterprise")])},
        {"resource": "accounts", "name": "credit_limit", "label": "Credit limit", "type": "money", "position": 2},
        {"resource": "accounts", "name": "contract_renewal", "label": "Contract renewal", "type": "date", "position": 3},
        {"resource": "contacts", "name": "preferred_language", "label": "Preferred language", "type": "enum",
         "position": 1, "options": options(&[("ko", "Korean"), ("en", "English"), ("de", "German"), ("ja", "Japanese")])},
        {"resource": "contacts", "name": "newsletter_topics", "label": "Newsletter topics", "type": "multi_enum",
         "position": 2, "options": options(&[("product", "Product news"), ("events", "Events"), ("research", "Research")])},
        {"resource": "contacts", "name": "nps", "label": "Net promoter score", "type": "number", "min": 0, "max": 10,
         "position": 3, "description": "The latest answer to the NPS survey, 0 to 10."}
    ])
}

/// Loads `accounts` accounts and `contacts` contacts spread over them, deterministically, through
/// the bulk import path (validated, with their events). Refuses a database that has accounts.
/// With `custom`, the demo's custom fields are defined first and the records get values.
pub fn seed(
    db: &Db,
    accounts: usize,
    contacts: usize,
    custom: bool,
    progress: &mut crate::progress::Progress,
) -> Result<(usize, usize), String> {
    if accounts == 0 && contacts > 0 {
        return Err("contacts are seeded into accounts: give --accounts as well".into());
    }
    let actor = Actor::system();
    let existing = db
        .run_sync(|c| crm_records::list::<crm_accounts::Account>(c, &actor, &Default::default()))
        .map_err(|e| e.to_string())?;
    if !existing.data.is_empty() {
        return Err("the database already has accounts; seed an empty database".into());
    }
    if custom {
        let inputs: Vec<CustomFieldInput> = serde_json::from_value(demo_custom_fields()).map_err(|e| e.to_string())?;
        db.transaction_sync(|conn| -> Result<(), crm_records::RecordError> {
            for i in inputs {
                crm_records::create::<CustomField>(conn, &actor, i)?;
            }
            Ok(())
        })
        .map_err(|e| format!("custom fields: {e}"))?;
    }
    let mut rng = StdRng::seed_from_u64(20261122);
    let (per, extra) = (contacts / accounts.max(1), contacts % accounts.max(1));
    let (mut done_a, mut done_c) = (0, 0);
    let mut start = 0;
    progress.phase("accounts", accounts as u64);
    while start < accounts {
        let end = (start + SEED_CHUNK).min(accounts);
        let batch: Vec<(AccountInput, Vec<ContactInput>)> =
            (start..end).map(|n| demo_account(&mut rng, n, per + usize::from(n < extra), custom)).collect();
        let (a, c) = db
            .transaction_sync(|conn| -> Result<(usize, usize), SeedError> {
                let (acc_inputs, people): (Vec<AccountInput>, Vec<Vec<ContactInput>>) = batch.into_iter().unzip();
                let created = crm_accounts::read::import_accounts(conn, &actor, acc_inputs)
                    .map_err(|(i, e)| SeedError(format!("account {}: {e}", start + i)))?;
                let mut contact_inputs = Vec::new();
                for (acc, group) in created.iter().zip(people) {
                    for mut p in group {
                        p.account_id = Some(acc.id);
                        contact_inputs.push(p);
                    }
                }
                let n = crm_contacts::read::import_contacts(conn, &actor, contact_inputs)
                    .map_err(|(i, e)| SeedError(format!("contact {i}: {e}")))?
                    .len();
                Ok((created.len(), n))
            })
            .map_err(|e| e.0)?;
        done_a += a;
        done_c += c;
        start = end;
        progress.inc(a as u64);
    }
    progress.finish();
    if custom {
        // What the server keeps for custom fields' filters, built once the rows are in.
        db.run_sync(crm_records::custom::ensure_indexes).map_err(|e| format!("custom-field indexes: {e}"))?;
    }
    // Statistics for the planner now, not whenever autovacuum comes by.
    db.run_sync(|c| crm_db::analyze(c).map_err(crm_db::DbError::from)).map_err(|e| e.to_string())?;
    Ok((done_a, done_c))
}

/// A contact's offset from its city's centre, in degrees (-0.05 to 0.05, about ±5 km), from
/// its account's number, its own and a prime, so that the random stream (and every other
/// seeded value) stays as it was before contacts had coordinates.
fn spread(account: usize, contact: usize, prime: usize) -> f64 {
    let h =
        (account.wrapping_mul(prime).wrapping_add(contact.wrapping_mul(2_654_435_761)).wrapping_add(prime)) % 10_007;
    (h as f64 / 10_006.0 - 0.5) * 0.1
}

/// The `n`th demo city, cycling through the countries: (country, city, region).
pub(crate) fn demo_city(n: usize) -> (&'static str, &'static str, &'static str) {
    let country = &COUNTRIES[n % COUNTRIES.len()];
    let (city, region, _, _) = country.cities[(n / COUNTRIES.len()) % country.cities.len()];
    (country.code, city, region)
}

fn pick<'a>(rng: &mut StdRng, xs: &'a [&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

fn demo_account(rng: &mut StdRng, n: usize, contacts: usize, custom: bool) -> (AccountInput, Vec<ContactInput>) {
    // Countries come in contiguous blocks: the phone library's small regex cache stays warm.
    let country = &COUNTRIES[(n / 64) % COUNTRIES.len()];
    let (city, region, lat, lng) = country.cities[rng.random_range(0..country.cities.len())];
    let (a, b) = (pick(rng, COMPANY_A), pick(rng, COMPANY_B));
    let name = format!("{a} {b} {}", n + 1);
    let domain = format!("{}-{}-{}.{}", a.to_lowercase(), b.to_lowercase(), n + 1, country.tld);
    let tier = [Tier::Bronze, Tier::Silver, Tier::Gold, Tier::Platinum][rng.random_range(0..4)];
    let employees: i32 = rng.random_range(5..20_000);
    let revenue_major: i64 = i64::from(employees) * rng.random_range(50_000..400_000);
    let minor_per_major = if country.currency == "KRW" || country.currency == "JPY" { 1 } else { 100 };
    let scale = if country.currency == "KRW" {
        1_300
    } else if country.currency == "JPY" {
        150
    } else {
        1
    };
    let account = AccountInput {
        name,
        domain: Some(domain.clone()),
        industry: Some(INDUSTRIES[COMPANY_B.iter().position(|x| *x == b).unwrap_or(0) % INDUSTRIES.len()].into()),
        tier: Some(tier),
        phone: {
            let raw = (country.phone)(rng);
            crm_core::values::parse_phone("phone", &raw, Some(country.code)).ok()
        },
        website: Some(format!("https://www.{domain}")),
        street: Some(format!("{} Main Street", rng.random_range(1..400))),
        city: Some(city.into()),
        region: Some(region.into()),
        postal_code: Some(digits(rng, 5)),
        country: Some(country.code.into()),
        // One account in four has no coordinates: the gazetteer locates it from its city (the
        // offsets are drawn all the same, so the rest of the data stays as it was).
        latitude: Some(lat + rng.random_range(-0.05..0.05)).filter(|_| !n.is_multiple_of(4)),
        longitude: Some(lng + rng.random_range(-0.05..0.05)).filter(|_| !n.is_multiple_of(4)),
        annual_revenue: Some(Money::new(revenue_major * scale * minor_per_major / 100 * 100, country.currency)),
        employee_count: Some(employees),
        tags: if tier == Tier::Platinum { vec!["key-account".into()] } else { vec![] },
        custom_fields: custom.then(|| {
            let segment = match employees {
                ..200 => "smb",
                200..2000 => "mid_market",
                _ => "enterprise",
            };
            // A tenth of a year's revenue, rounded to a thousand major units.
            let limit = revenue_major * scale / 10 / 1000 * 1000 * minor_per_major;
            let renewal = format!("2027-{:02}-{:02}", rng.random_range(1..=12), rng.random_range(1..=28));
            serde_json::json!({
                "segment": segment,
                "credit_limit": {"amount_minor": limit, "currency": country.currency},
                "contract_renewal": renewal,
            })
        }),
        ..Default::default()
    };
    let language = match country.code {
        "KR" => "ko",
        "DE" => "de",
        "JP" => "ja",
        _ => "en",
    };
    let people = (0..contacts)
        .map(|k| {
            let first = pick(rng, country.first);
            let last = pick(rng, country.last);
            let local = if country.code == "KR" {
                format!("user{}.{k}", n + 1)
            } else {
                format!("{}.{}{k}", first.to_lowercase(), last.to_lowercase())
            };
            let stage = [
                LifecycleStage::Lead,
                LifecycleStage::Customer,
                LifecycleStage::Opportunity,
                LifecycleStage::Subscriber,
                LifecycleStage::Churned,
            ][rng.random_range(0..5)];
            let consent =
                [EmailConsent::Unknown, EmailConsent::OptedIn, EmailConsent::OptedOut][rng.random_range(0..3)];
            let phone = (country.phone)(rng);
            ContactInput {
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                email: Some(format!("{}@{domain}", local.replace('ü', "ue"))),
                phone: crm_core::values::parse_phone("phone", &phone, Some(country.code)).ok(),
                title: Some(pick(rng, TITLES).into()),
                department: Some(pick(rng, DEPARTMENTS).into()),
                lifecycle_stage: Some(stage),
                email_consent: Some(consent),
                do_not_call: Some(rng.random_bool(0.1)),
                city: Some(city.into()),
                region: Some(region.into()),
                country: Some(country.code.into()),
                latitude: Some(lat + spread(n, k, 7919)),
                longitude: Some(lng + spread(n, k, 104_729)),
                tags: if rng.random_bool(0.2) { vec!["newsletter".into()] } else { vec![] },
                custom_fields: custom.then(|| {
                    let topics: Vec<&str> =
                        ["product", "events", "research"].into_iter().filter(|_| rng.random_bool(0.3)).collect();
                    let mut values = serde_json::json!({"preferred_language": language, "newsletter_topics": topics});
                    if rng.random_bool(0.5) {
                        values["nps"] = serde_json::json!(rng.random_range(0..=10));
                    }
                    values
                }),
                ..Default::default()
            }
        })
        .collect();
    (account, people)
}

/// The demo's automation rules: enabled, starting at the feed's head, so that a new user sees
/// them act on what they do next (an urgent case escalated, a new lead's follow-up call).
pub fn demo_rules(db: &Db) -> Result<usize, String> {
    let rules = serde_json::json!([
        {
            "name": "Escalate urgent cases",
            "description": "An urgent case gets a note in the customer's history, a call for its owner within the hour and the `escalated` tag.",
            "entity": "case",
            "events": ["created", "updated"],
            "changed_fields": ["priority"],
            "filter": "priority[eq]:urgent",
            "actions": [
                {"type": "add_note", "subject": "Escalated", "body": "Case \"{{subject}}\" is urgent: escalated automatically."},
                {"type": "create_activity", "activity_type": "call", "subject": "Call the customer about {{subject}}", "due_in": "1h"},
                {"type": "set_fields", "fields": {"tags": ["escalated"]}}
            ],
            "tags": ["demo"]
        },
        {
            "name": "Follow up new leads",
            "description": "A new lead gets a call task for its owner the next day.",
            "entity": "lead",
            "events": ["created"],
            "actions": [
                {"type": "create_activity", "activity_type": "task", "subject": "Call {{first_name}} {{last_name}} ({{company}})", "due_in": "1d"}
            ],
            "tags": ["demo"]
        }
    ]);
    let inputs: Vec<crm_automation::AutomationRuleInput> = serde_json::from_value(rules).map_err(|e| e.to_string())?;
    let n = inputs.len();
    let actor = Actor::system();
    db.transaction_sync(|conn| -> Result<(), crm_records::RecordError> {
        for i in inputs {
            crm_records::create::<crm_automation::AutomationRule>(conn, &actor, i)?;
        }
        Ok(())
    })
    .map_err(|e| format!("automation rules: {e}"))?;
    Ok(n)
}
