//! Geographic CRM beyond the lists' radius and box search (which live in the filter language,
//! `crm_core::geo`): the offline gazetteer addresses are geocoded in, and visit routes for field
//! reps.

pub mod gazetteer;
pub mod geocoding;
pub mod remote;
pub mod road;
pub mod routes;
pub mod snapshot;
pub mod suggest;
pub mod tour;

pub use routes::{AcceptedRoute, PlannedVisit, RoutePlan, RoutePlanInput, RoutePoint, RouteStopInput, UnplannedStop};
