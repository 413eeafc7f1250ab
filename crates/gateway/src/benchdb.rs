//! `crm bench-db`: the database ceiling for `make bench`, the same service calls as the HTTP
//! scenarios (hence the same SQL through the same driver) without HTTP and JSON.

use crm_accounts::Account;
use crm_contacts::{Contact, ContactInput};
use crm_core::Actor;
use crm_db::Db;

/// The database ceiling for a bench scenario: the same service calls (hence the same SQL
/// through the same driver) as the HTTP scenario, without HTTP and JSON, on `threads` threads
/// for `duration`. Returns operations per second.
pub fn bench_db(db: &Db, scenario: &str, duration: std::time::Duration, threads: usize) -> Result<f64, String> {
    use crm_core::list::ListParams;
    let actor = Actor::system();
    let ids: Vec<crm_core::ids::ContactId> = db
        .run_sync(|c| crm_records::list::<Contact>(c, &actor, &ListParams { limit: Some(1000), ..Default::default() }))
        .map_err(|e| e.to_string())?
        .data
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.is_empty() && scenario == "get" {
        return Err("seed the database first".into());
    }
    let list = ListParams {
        limit: Some(50),
        filter: Some("city[eq]:Seoul".into()),
        sort: Some("last_name".into()),
        ..Default::default()
    };
    // The list of `make bench`'s custom-field scenario (the seed's `--custom-fields`).
    let custom = ListParams {
        limit: Some(50),
        filter: Some("custom_fields.preferred_language[eq]:ko".into()),
        sort: Some("last_name".into()),
        ..Default::default()
    };
    // The radius scenario: the 50 nearest within 5 km of Seoul City Hall.
    let near = ListParams {
        limit: Some(50),
        filter: Some("location[near]:[37.5665,126.978,5km]".into()),
        sort: Some("distance".into()),
        ..Default::default()
    };
    let terms = ["kim", "lee", "park", "smith", "jones", "sato", "muller", "min", "jo", "ha", "mia", "noah"];
    let deadline = std::time::Instant::now() + duration;
    let counts: Vec<Result<u64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (db, actor, ids, list, custom, near) =
                    (db.clone(), actor.clone(), &ids, list.clone(), custom.clone(), near.clone());
                s.spawn(move || -> Result<u64, String> {
                    let mut n: u64 = 0;
                    while std::time::Instant::now() < deadline {
                        let i = usize::try_from(n).unwrap_or(0).wrapping_mul(7919).wrapping_add(t * 104_729);
                        let r: Result<(), String> = match scenario {
                            "get" => db
                                .run_sync(|c| crm_records::get::<Contact>(c, &actor, ids[i % ids.len()]).map(|_| ()))
                                .map_err(|e| e.to_string()),
                            "list" => db
                                .run_sync(|c| crm_records::list::<Contact>(c, &actor, &list).map(|_| ()))
                                .map_err(|e| e.to_string()),
                            "custom" => db
                                .run_sync(|c| crm_records::list::<Contact>(c, &actor, &custom).map(|_| ()))
                                .map_err(|e| e.to_string()),
                            "near" => db
                                .run_sync(|c| crm_records::list::<Contact>(c, &actor, &near).map(|_| ()))
                                .map_err(|e| e.to_string()),
                            "include" => db
                                .run_sync(|c| -> Result<(), crm_records::RecordError> {
                                    let page = crm_records::list::<Contact>(c, &actor, &list)?;
                                    let mut acc: Vec<_> = page.data.iter().filter_map(|x| x.account_id).collect();
                                    acc.sort();
                                    acc.dedup();
                                    crm_records::get_many::<Account>(c, &actor, &acc, true)?;
                                    Ok(())
                                })
                                .map_err(|e| e.to_string()),
                            "search" => {
                                let p = ListParams {
                                    limit: Some(50),
                                    q: Some(terms[i % terms.len()].into()),
                                    ..Default::default()
                                };
                                db.run_sync(|c| crm_records::list::<Contact>(c, &actor, &p).map(|_| ()))
                                    .map_err(|e| e.to_string())
                            }
                            "create" => {
                                let input = ContactInput {
                                    first_name: Some("Ceiling".into()),
                                    last_name: Some(format!("T{t}N{n}")),
                                    email: Some(format!("ceiling-{t}-{n}-{}@load.example.com", std::process::id())),
                                    city: Some("Seoul".into()),
                                    ..Default::default()
                                };
                                db.transaction_sync(|c| crm_records::create::<Contact>(c, &actor, input).map(|_| ()))
                                    .map_err(|e| e.to_string())
                            }
                            other => return Err(format!("unknown scenario `{other}`")),
                        };
                        r?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("bench thread panicked".into()))).collect()
    });
    let mut total = 0u64;
    for c in counts {
        total += c?;
    }
    Ok(total as f64 / duration.as_secs_f64())
}
