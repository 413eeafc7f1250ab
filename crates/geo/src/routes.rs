//! Visit routes for field reps: the order of a day's visits to accounts and contacts (or any
//! place), each with an optional window and a visit length, from a start to an end, at a
//! travel speed over straight-line distance with a detour factor (docs/GEO.md); and accepting
//! a plan as meetings on the rep's agenda.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::geo::{GeoPoint, distance_m};
use crm_core::ids::{AccountId, ContactId, UserId};
use crm_core::{Actor, FieldErrors, Scope, Timestamp};
use crm_db::{AnyConnection, Db};
use crm_records::RecordError;
use crm_sales::{Activity, ActivityInput, ActivityType};
use serde::{Deserialize, Serialize};

use crate::tour::{Problem, Stop};

/// Most stops one plan takes.
pub const MAX_STOPS: usize = 200;
/// Visit length when none is given, in minutes.
pub const DEFAULT_VISIT_MINUTES: u32 = 30;
/// Travel speed when none is given (km/h): town driving with parking.
pub const DEFAULT_SPEED_KMH: f64 = 30.0;
/// Road distance over straight-line distance when none is given (typical of towns).
pub const DEFAULT_DETOUR: f64 = 1.3;

/// A position.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "RoutePointInput"))]
pub struct RoutePoint {
    /// Degrees, -90 to 90.
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub latitude: f64,
    /// Degrees, -180 to 180.
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub longitude: f64,
}

/// One place to visit: an account or a contact (at its location), or a point.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct RouteStopInput {
    /// The account to visit (at its location).
    #[serde(default)]
    pub account_id: Option<AccountId>,
    /// The contact to visit (at its location; its account is named on the meeting too).
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Where, for a stop that is no record, or to override the record's location.
    #[serde(default)]
    pub location: Option<RoutePoint>,
    /// A name for the stop (defaults to the record's name).
    #[serde(default)]
    pub label: Option<String>,
    /// The visit may not start before (the rep waits).
    #[serde(default)]
    pub earliest: Option<Timestamp>,
    /// The visit must start by.
    #[serde(default)]
    pub latest: Option<Timestamp>,
    /// Minutes the visit takes (default 30; at most 720).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 720))]
    pub duration_minutes: Option<u32>,
}

/// A day's visits to plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct RoutePlanInput {
    /// Whose agenda an accepted plan goes to (default: the caller's user).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Where the rep sets out from.
    pub start: RoutePoint,
    /// Where the route ends (default: back at `start`).
    #[serde(default)]
    pub end: Option<RoutePoint>,
    /// When the rep sets out.
    pub start_at: Timestamp,
    /// The route must end by (default: 24 hours after `start_at`).
    #[serde(default)]
    pub end_by: Option<Timestamp>,
    /// Average travel speed in km/h over road distance (default 30; 1 to 200).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 200))]
    pub speed_kmh: Option<f64>,
    /// Road distance over straight-line distance (default 1.3; 1 to 3).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3))]
    pub detour_factor: Option<f64>,
    /// The places to visit, 1 to 200.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 200))]
    pub stops: Vec<RouteStopInput>,
}

/// One visit of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct PlannedVisit {
    /// Its index in the input's `stops`.
    pub stop: i32,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub label: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Road distance from the previous place (the provider's, or straight line × detour), metres.
    pub distance_m: f64,
    pub arrive_at: Timestamp,
    /// When the visit starts: on arrival, or at the window's opening.
    pub start_at: Timestamp,
    pub depart_at: Timestamp,
    /// Seconds waited for the window to open.
    pub wait_seconds: i64,
}

/// A stop the plan leaves out, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct UnplannedStop {
    /// Its index in the input's `stops`.
    pub stop: i32,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub label: String,
    /// `no_location` (the record has none), `window_unreachable` (even alone, the rep cannot
    /// arrive before the window closes and be back by `end_by`), `no_time` (it fits with
    /// fewer others, not with those planned).
    pub reason: String,
    pub detail: String,
}

/// A planned day.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RoutePlan {
    /// The visits in order.
    pub visits: Vec<PlannedVisit>,
    /// The stops left out.
    pub unplanned: Vec<UnplannedStop>,
    /// Arrival at the end.
    pub end_at: Timestamp,
    /// Road distance of the whole route, metres (start to end).
    pub total_distance_m: f64,
    /// Seconds on the road.
    pub travel_seconds: i64,
    /// Seconds waiting for windows to open.
    pub wait_seconds: i64,
    /// The same visits in nearest-neighbour order would drive this far (for comparison).
    pub nearest_neighbour_distance_m: f64,
    /// How distances and times were had: `road` (the road-distance provider) or
    /// `straight_line` (× `detour_factor` at `speed_kmh`).
    pub travel_model: TravelModel,
}

crm_core::wire_enum!(
    /// How a plan's distances and times were had.
    TravelModel {
        StraightLine = "straight_line",
        Road = "road",
    }
);

/// A plan accepted: the meetings created on the rep's agenda, in the plan's order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptedRoute {
    pub plan: RoutePlan,
    pub activities: Vec<Activity>,
}

/// A stop resolved to a place.
struct Place {
    account_id: Option<AccountId>,
    contact_id: Option<ContactId>,
    label: String,
    point: Option<GeoPoint>,
}

fn point(p: RoutePoint, field: &str, errs: &mut FieldErrors) -> Option<GeoPoint> {
    match GeoPoint::new(p.latitude, p.longitude) {
        Ok(g) => Some(g),
        Err(e) => {
            errs.add(field, "out_of_range", e);
            None
        }
    }
}

/// Checks the input and finds each stop's place (reading the accounts and contacts named).
fn places(conn: &mut AnyConnection, actor: &Actor, input: &RoutePlanInput) -> Result<Vec<Place>, RecordError> {
    let mut errs = FieldErrors::new();
    if input.stops.is_empty() || input.stops.len() > MAX_STOPS {
        errs.add("stops", "out_of_range", format!("a plan takes 1 to {MAX_STOPS} stops"));
    }
    let accounts: Vec<AccountId> = input.stops.iter().filter_map(|s| s.account_id).collect();
    let contacts: Vec<ContactId> = input.stops.iter().filter_map(|s| s.contact_id).collect();
    let accounts: HashMap<AccountId, Account> = if accounts.is_empty() {
        HashMap::new()
    } else {
        crm_records::get_many::<Account>(conn, actor, &accounts, false)?.into_iter().map(|a| (a.id, a)).collect()
    };
    let contacts: HashMap<ContactId, Contact> = if contacts.is_empty() {
        HashMap::new()
    } else {
        crm_records::get_many::<Contact>(conn, actor, &contacts, false)?.into_iter().map(|c| (c.id, c)).collect()
    };
    let mut out = Vec::with_capacity(input.stops.len());
    for (i, s) in input.stops.iter().enumerate() {
        let f = |name: &str| format!("stops[{i}].{name}");
        let mut label = s.label.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string);
        let mut point_of_record = None;
        if let Some(id) = s.account_id {
            match accounts.get(&id) {
                Some(a) => {
                    label = label.or_else(|| Some(a.name.clone()));
                    point_of_record = a.latitude.zip(a.longitude);
                }
                None => errs.add(&f("account_id"), "not_found", "no such account"),
            }
        }
        if let Some(id) = s.contact_id {
            match contacts.get(&id) {
                Some(c) => {
                    let name =
                        [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>();
                    label = label.or_else(|| Some(name.join(" ")).filter(|n| !n.is_empty()));
                    point_of_record = point_of_record.or(c.latitude.zip(c.longitude));
                }
                None => errs.add(&f("contact_id"), "not_found", "no such contact"),
            }
        }
        let given = s.location.and_then(|p| point(p, &f("location"), &mut errs));
        if s.account_id.is_none() && s.contact_id.is_none() && s.location.is_none() {
            errs.add(&format!("stops[{i}]"), "required", "a stop is an account, a contact or a location");
        }
        if let (Some(a), Some(b)) = (s.earliest, s.latest)
            && a > b
        {
            errs.add(&f("latest"), "out_of_range", "the window closes before it opens");
        }
        if s.duration_minutes.is_some_and(|m| m > 720) {
            errs.add(&f("duration_minutes"), "out_of_range", "a visit takes at most 720 minutes");
        }
        let point = given.or_else(|| point_of_record.map(|(lat, lng)| GeoPoint { lat, lng }));
        out.push(Place {
            account_id: s.account_id,
            contact_id: s.contact_id,
            label: label.unwrap_or_else(|| format!("Stop {}", i + 1)),
            point,
        });
    }
    point(input.start, "start", &mut errs);
    if let Some(e) = input.end {
        point(e, "end", &mut errs);
    }
    if input.speed_kmh.is_some_and(|v| !(1.0..=200.0).contains(&v)) {
        errs.add("speed_kmh", "out_of_range", "1 to 200 km/h");
    }
    if input.detour_factor.is_some_and(|v| !(1.0..=3.0).contains(&v)) {
        errs.add("detour_factor", "out_of_range", "1 to 3");
    }
    if input.end_by.is_some_and(|e| e <= input.start_at) {
        errs.add("end_by", "out_of_range", "the route must end after it starts");
    }
    if !errs.is_empty() {
        return Err(RecordError::Invalid { entity: "route", errors: errs });
    }
    Ok(out)
}

fn at(start: DateTime<Utc>, seconds: f64) -> Timestamp {
    Timestamp(start + Duration::milliseconds((seconds * 1000.0).round() as i64))
}

/// Plans the day: the order of the visits and their times, and the stops left out with the
/// reason. Needs `sales:read`, and the read scope of the accounts and contacts named. The
/// stops are read in one unit of work; the road-distance provider (when `db` carries one) is
/// asked with no connection held.
pub fn plan(db: &Db, actor: &Actor, input: &RoutePlanInput) -> Result<RoutePlan, RecordError> {
    actor.require(Scope::SalesRead)?;
    let places = db.run_sync(|c| places(c, actor, input))?;
    solve(db.context_of::<crate::road::RoadRouter>().as_deref(), input, &places)
}

/// The plan of `places` (the input's stops, resolved).
fn solve(
    router: Option<&crate::road::RoadRouter>,
    input: &RoutePlanInput,
    places: &[Place],
) -> Result<RoutePlan, RecordError> {
    let detour = input.detour_factor.unwrap_or(DEFAULT_DETOUR);
    let speed = input.speed_kmh.unwrap_or(DEFAULT_SPEED_KMH);
    let start = GeoPoint { lat: input.start.latitude, lng: input.start.longitude };
    let end = input.end.map_or(start, |e| GeoPoint { lat: e.latitude, lng: e.longitude });
    let t0 = input.start_at.0;
    let secs = |t: Timestamp| (t.0 - t0).num_milliseconds() as f64 / 1000.0;
    let end_by = input.end_by.map_or(24.0 * 3600.0, secs);

    // The stops with a place go to the solver; the others are left out now.
    let located: Vec<usize> = (0..places.len()).filter(|&i| places[i].point.is_some()).collect();
    let mut points = vec![start];
    points.extend(located.iter().filter_map(|&i| places[i].point));
    points.push(end);
    // Road distances and times from the provider when there is one and it answers; else the
    // straight line × the detour factor at the speed.
    let road = router.and_then(|router| match router.table(&points) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, places = points.len(), "planning on straight-line distances");
            None
        }
    });
    let travel_model = if road.is_some() { TravelModel::Road } else { TravelModel::StraightLine };
    let (dist, travel): (Vec<Vec<f64>>, Vec<Vec<f64>>) = match road {
        Some(m) => (m.distances, m.durations),
        None => {
            let dist: Vec<Vec<f64>> =
                points.iter().map(|a| points.iter().map(|b| distance_m(*a, *b) * detour).collect()).collect();
            let travel = dist.iter().map(|row| row.iter().map(|d| d * 3.6 / speed).collect()).collect();
            (dist, travel)
        }
    };
    let stops: Vec<Stop> = located
        .iter()
        .map(|&i| {
            let s = &input.stops[i];
            Stop {
                earliest: s.earliest.map_or(0.0, secs).max(0.0),
                latest: s.latest.map_or(f64::MAX, secs),
                service: f64::from(s.duration_minutes.unwrap_or(DEFAULT_VISIT_MINUTES)) * 60.0,
            }
        })
        .collect();
    let problem = Problem { dist, travel, stops, end_by };
    let (tour, left) = problem.solve();
    let schedule = problem.schedule(&tour.order).ok_or_else(|| RecordError::Conflict {
        entity: "route",
        code: "ROUTE_INFEASIBLE",
        reason: "no feasible schedule".into(),
    })?;

    let mut visits = Vec::with_capacity(tour.order.len());
    let mut prev = 0;
    for (k, &s) in tour.order.iter().enumerate() {
        let i = located[s];
        let p = &places[i];
        let point = p.point.unwrap_or(start);
        let service = problem.stops[s].service;
        visits.push(PlannedVisit {
            stop: i as i32,
            account_id: p.account_id,
            contact_id: p.contact_id,
            label: p.label.clone(),
            latitude: point.lat,
            longitude: point.lng,
            distance_m: problem.dist[prev][s + 1],
            arrive_at: at(t0, schedule.arrive[k]),
            start_at: at(t0, schedule.start[k]),
            depart_at: at(t0, schedule.start[k] + service),
            wait_seconds: (schedule.start[k] - schedule.arrive[k]).round() as i64,
        });
        prev = s + 1;
    }
    let mut unplanned: Vec<UnplannedStop> = Vec::new();
    for i in (0..places.len()).filter(|i| places[*i].point.is_none()) {
        unplanned.push(unplanned_stop(places, i, "no_location", "the record has no latitude and longitude".into()));
    }
    for s in left {
        let i = located[s];
        let alone = problem.schedule(&[s]).is_some();
        let (reason, detail) = if alone {
            ("no_time", "it fits with fewer stops, not with those planned (widen its window or plan another day)")
        } else {
            ("window_unreachable", "even alone, the rep cannot start the visit within its window and end by `end_by`")
        };
        unplanned.push(unplanned_stop(places, i, reason, detail.into()));
    }
    unplanned.sort_by_key(|u| u.stop);
    let total_wait: f64 = schedule.start.iter().zip(&schedule.arrive).map(|(s, a)| s - a).sum();
    let service: f64 = tour.order.iter().map(|&s| problem.stops[s].service).sum();
    Ok(RoutePlan {
        visits,
        unplanned,
        end_at: at(t0, schedule.end),
        total_distance_m: tour.distance,
        travel_seconds: (schedule.end - total_wait - service).round() as i64,
        wait_seconds: total_wait.round() as i64,
        nearest_neighbour_distance_m: problem.length(&problem.nearest_order(&tour.order)),
        travel_model,
    })
}

fn unplanned_stop(places: &[Place], i: usize, reason: &str, detail: String) -> UnplannedStop {
    let p = &places[i];
    UnplannedStop {
        stop: i as i32,
        account_id: p.account_id,
        contact_id: p.contact_id,
        label: p.label.clone(),
        reason: reason.into(),
        detail,
    }
}

/// Plans the day and puts each visit on the rep's agenda as a meeting (due at the visit's
/// start, with the account and contact it is for), in one transaction with the caller's
/// rights to create activities. The plan is made again from the input (before the
/// transaction: it may wait on the road-distance provider), so what lands on the agenda is
/// always a feasible plan.
pub fn accept(db: &Db, actor: &Actor, input: &RoutePlanInput) -> Result<AcceptedRoute, RecordError> {
    actor.require(Scope::SalesWrite)?;
    let plan = plan(db, actor, input)?;
    db.transaction_sync(|c| put_on_agenda(c, actor, input, plan))
}

fn put_on_agenda(
    conn: &mut AnyConnection,
    actor: &Actor,
    input: &RoutePlanInput,
    plan: RoutePlan,
) -> Result<AcceptedRoute, RecordError> {
    let assignee = match input.user_id {
        Some(u) => Some(u),
        None => crm_users::current_user_id(conn, actor)?,
    };
    let mut activities = Vec::with_capacity(plan.visits.len());
    let n = plan.visits.len();
    for (k, v) in plan.visits.iter().enumerate() {
        let description = format!(
            "Visit {} of {n} on the planned route: arrive {}, meet {}–{}{}.",
            k + 1,
            v.arrive_at.to_rfc3339(),
            v.start_at.to_rfc3339(),
            v.depart_at.to_rfc3339(),
            if v.wait_seconds > 0 { format!(" (wait {} min)", v.wait_seconds / 60) } else { String::new() },
        );
        let account_id = match (v.account_id, v.contact_id) {
            (Some(a), _) => Some(a),
            (None, Some(c)) => crm_records::get::<Contact>(conn, actor, c)?.account_id,
            _ => None,
        };
        let activity = crm_records::create::<Activity>(
            conn,
            actor,
            ActivityInput {
                activity_type: Some(ActivityType::Meeting),
                subject: Some(format!("Visit: {}", v.label)),
                description: Some(description),
                due_at: Some(v.start_at),
                assignee_id: assignee,
                account_id,
                contact_id: v.contact_id,
                tags: vec!["route".into()],
                ..Default::default()
            },
        )?;
        activities.push(activity);
    }
    Ok(AcceptedRoute { plan, activities })
}
