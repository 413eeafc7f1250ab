//! Geographic CRM beyond the lists' radius and box search (which live in the filter language,
//! `crm_core::geo`): visit routes for field reps.

pub mod routes;
pub mod tour;

pub use routes::{AcceptedRoute, PlannedVisit, RoutePlan, RoutePlanInput, RoutePoint, RouteStopInput, UnplannedStop};
