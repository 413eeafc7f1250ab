//! The optional road-distance provider for route planning: an OSRM-compatible table service
//! (`CRM_ROUTING_URL`, e.g. a self-hosted `osrm-routed`), asked once per plan for the distance
//! and the driving time between every pair of places. Without one, or when it cannot answer
//! (down, or more places than its table allows: OSRM's default is 100), plans use the
//! straight-line model and say so (`travel_model`).

use std::time::Duration;

use crm_core::geo::GeoPoint;

/// An OSRM-compatible table service.
pub struct RoadRouter {
    base: String,
    profile: String,
    agent: ureq::Agent,
}

/// Metres and seconds between every pair of places, in their order.
pub struct Matrix {
    pub distances: Vec<Vec<f64>>,
    pub durations: Vec<Vec<f64>>,
}

/// A pair the service finds no road between: a detour no plan takes.
const UNREACHABLE: f64 = 1e9;

impl RoadRouter {
    /// `base` is the service's root (`http://osrm.internal:5000`), `profile` its profile
    /// (`driving`).
    pub fn new(base: &str, profile: &str, timeout: Duration) -> Result<RoadRouter, String> {
        let base = base.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("CRM_ROUTING_URL {base}: an http(s) URL"));
        }
        if profile.is_empty() || !profile.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("CRM_ROUTING_PROFILE {profile}: a profile name such as `driving`"));
        }
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Ok(RoadRouter { base: base.to_string(), profile: profile.to_string(), agent })
    }

    /// The table of `points` (`GET /table/v1/{profile}/{lng,lat;…}?annotations=distance,duration`).
    pub fn table(&self, points: &[GeoPoint]) -> Result<Matrix, String> {
        let coords: Vec<String> = points.iter().map(|p| format!("{:.6},{:.6}", p.lng, p.lat)).collect();
        // The comma as OSRM writes it (not percent-encoded).
        let url = format!("{}/table/v1/{}/{}?annotations=distance,duration", self.base, self.profile, coords.join(";"));
        let mut res = self.agent.get(&url).call().map_err(|e| format!("road distances: {e}"))?;
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().map_err(|e| format!("road distances: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("road distances: not JSON ({status}): {e}"))?;
        if status != 200 || v["code"] != "Ok" {
            return Err(format!(
                "road distances: {status} {}",
                v["message"].as_str().unwrap_or(v["code"].as_str().unwrap_or(""))
            ));
        }
        let grid = |key: &str| -> Result<Vec<Vec<f64>>, String> {
            let rows = v[key].as_array().ok_or_else(|| format!("road distances: no `{key}`"))?;
            if rows.len() != points.len() {
                return Err(format!("road distances: {} rows of `{key}` for {} places", rows.len(), points.len()));
            }
            rows.iter()
                .map(|r| {
                    let r = r.as_array().filter(|r| r.len() == points.len()).ok_or("road distances: a short row")?;
                    Ok(r.iter()
                        .map(|x| x.as_f64().filter(|x| x.is_finite() && *x >= 0.0).unwrap_or(UNREACHABLE))
                        .collect())
                })
                .collect()
        };
        Ok(Matrix { distances: grid("distances")?, durations: grid("durations")? })
    }
}
