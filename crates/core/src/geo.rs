//! Points on the earth and the distances between them, as lists and filters use them
//! (`location[near]:[37.5665,126.9780,5km]`, `location[bbox]:[33,124,39,132]`).
//!
//! Distances are great-circle distances on a sphere of the mean earth radius (haversine), in
//! metres. The databases compute the same formula: SQLite through a function this crate's
//! [`distance_m`] backs (registered on every connection), PostgreSQL through the SQL function
//! `crm_distance_m` of the migrations. On the ellipsoid the true distance differs by up to
//! about 0.5 %, which a visit plan or a "within 5 km" list does not feel.

use std::fmt;

/// The mean earth radius (IUGG), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Half the earth's circumference: no two points are further apart.
pub const MAX_DISTANCE_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M;
/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// A position in decimal degrees (WGS 84).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
}

impl GeoPoint {
    /// A point with checked coordinates.
    pub fn new(lat: f64, lng: f64) -> Result<GeoPoint, String> {
        if !lat.is_finite() || lat.abs() > 90.0 {
            return Err(format!("latitude must be between -90 and 90, not {lat}"));
        }
        if !lng.is_finite() || lng.abs() > 180.0 {
            return Err(format!("longitude must be between -180 and 180, not {lng}"));
        }
        Ok(GeoPoint { lat, lng })
    }
}

/// The great-circle distance between two points, in metres (haversine).
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = (b.lat - a.lat).to_radians();
    let dl = (b.lng - a.lng).to_radians();
    let s = (dp / 2.0).sin();
    let t = (dl / 2.0).sin();
    let h = s * s + p1.cos() * p2.cos() * t * t;
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// A box between two latitudes and two longitudes. `west > east` crosses the antimeridian
/// (`[-20,170,-10,-170]` spans 20 degrees of longitude around 180).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoBox {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl GeoBox {
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Result<GeoBox, String> {
        let (sw, ne) = (GeoPoint::new(south, west)?, GeoPoint::new(north, east)?);
        if sw.lat > ne.lat {
            return Err(format!("the south edge ({south}) is north of the north edge ({north})"));
        }
        Ok(GeoBox { south, west, north, east })
    }

    /// Whether the box crosses the antimeridian.
    pub fn wraps(&self) -> bool {
        self.west > self.east
    }

    pub fn contains(&self, p: GeoPoint) -> bool {
        let lng_in = if self.wraps() {
            p.lng >= self.west || p.lng <= self.east
        } else {
            (self.west..=self.east).contains(&p.lng)
        };
        (self.south..=self.north).contains(&p.lat) && lng_in
    }

    /// A box that holds every point within `radius_m` of `center` (for an index to narrow a
    /// radius search before the exact distance decides). Near a pole, or when the radius spans
    /// half the globe, every longitude.
    pub fn around(center: GeoPoint, radius_m: f64) -> GeoBox {
        let dlat = radius_m / M_PER_DEGREE;
        let (south, north) = ((center.lat - dlat).max(-90.0), (center.lat + dlat).min(90.0));
        // The widest a circle gets in longitude is at the latitude nearest a pole it reaches.
        let widest = south.abs().max(north.abs());
        if widest >= 89.999 || radius_m >= MAX_DISTANCE_M / 2.0 {
            return GeoBox { south, west: -180.0, north, east: 180.0 };
        }
        let dlng = (radius_m / (M_PER_DEGREE * widest.to_radians().cos())).min(180.0);
        if dlng >= 180.0 {
            return GeoBox { south, west: -180.0, north, east: 180.0 };
        }
        let wrap = |x: f64| {
            if x < -180.0 {
                x + 360.0
            } else if x > 180.0 {
                x - 360.0
            } else {
                x
            }
        };
        GeoBox { south, west: wrap(center.lng - dlng), north, east: wrap(center.lng + dlng) }
    }
}

/// A distance as written in a query: `5km`, `500m`, `1.5km`, or a bare number of metres.
pub fn parse_distance_m(s: &str) -> Result<f64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (number, factor) = if let Some(n) = t.strip_suffix("km") {
        (n, 1000.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1.0)
    } else {
        (t.as_str(), 1.0)
    };
    let v: f64 = number.trim().parse().map_err(|_| format!("`{s}` is not a distance (`5km`, `500m`)"))?;
    let m = v * factor;
    if !m.is_finite() || m <= 0.0 || m > MAX_DISTANCE_M {
        return Err(format!("a distance is more than 0 and at most {:.0} km, not `{s}`", MAX_DISTANCE_M / 1000.0));
    }
    Ok(m)
}

/// A location condition of a filter: `location[near]:[lat,lng,radius]` or
/// `location[bbox]:[south,west,north,east]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GeoCond {
    Near { center: GeoPoint, radius_m: f64 },
    Within(GeoBox),
}

impl fmt::Display for GeoCond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeoCond::Near { center, radius_m } => {
                write!(f, "location[near]:[{},{},{}m]", center.lat, center.lng, radius_m)
            }
            GeoCond::Within(b) => write!(f, "location[bbox]:[{},{},{},{}]", b.south, b.west, b.north, b.east),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lng: f64) -> GeoPoint {
        GeoPoint::new(lat, lng).unwrap()
    }

    #[test]
    fn distances_match_known_values() {
        // A quarter of a meridian: π/2 × R.
        let quarter = std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_M;
        assert!((distance_m(p(0.0, 0.0), p(90.0, 0.0)) - quarter).abs() < 1e-6);
        // One degree of longitude on the equator: R × π/180.
        assert!((distance_m(p(0.0, 10.0), p(0.0, 11.0)) - M_PER_DEGREE).abs() < 1e-6);
        // Antipodes, where haversine is least precise (asin near 1): within a metre.
        assert!((distance_m(p(10.0, 20.0), p(-10.0, -160.0)) - MAX_DISTANCE_M).abs() < 1.0);
        assert_eq!(distance_m(p(37.5665, 126.978), p(37.5665, 126.978)), 0.0);
    }

    #[test]
    fn the_box_around_a_circle_holds_it() {
        let c = p(37.5665, 126.978);
        let b = GeoBox::around(c, 5000.0);
        for bearing in 0..360 {
            // A point 4,999 m away in each direction (small-distance approximation).
            let th = f64::from(bearing).to_radians();
            let dlat = 4999.0 * th.cos() / M_PER_DEGREE;
            let dlng = 4999.0 * th.sin() / (M_PER_DEGREE * c.lat.to_radians().cos());
            let q = p(c.lat + dlat, c.lng + dlng);
            assert!(distance_m(c, q) < 5000.0);
            assert!(b.contains(q), "{bearing}");
        }
        let across = GeoBox::around(p(0.0, 179.99), 10_000.0);
        assert!(across.wraps() && across.contains(p(0.0, -179.99)) && !across.contains(p(0.0, 170.0)));
        let polar = GeoBox::around(p(89.99, 0.0), 5_000.0);
        assert_eq!((polar.west, polar.east), (-180.0, 180.0));
    }

    #[test]
    fn distances_and_boxes_are_checked() {
        assert_eq!(parse_distance_m("5km"), Ok(5000.0));
        assert_eq!(parse_distance_m("500m"), Ok(500.0));
        assert_eq!(parse_distance_m(" 1.5KM "), Ok(1500.0));
        assert_eq!(parse_distance_m("250"), Ok(250.0));
        for bad in ["", "km", "-5km", "0", "nan", "inf", "30000km", "5 miles"] {
            assert!(parse_distance_m(bad).is_err(), "{bad}");
        }
        assert!(GeoPoint::new(91.0, 0.0).is_err() && GeoPoint::new(0.0, f64::NAN).is_err());
        assert!(GeoBox::new(39.0, 124.0, 33.0, 132.0).is_err(), "south above north");
        assert!(GeoBox::new(33.0, 170.0, 39.0, -170.0).unwrap().wraps());
    }
}

crate::wire_enum!(
    /// Where a record's coordinates come from.
    LocationSource {
        /// Sent by the client with the record (the default when coordinates are sent).
        Given = "given",
        /// Found from the record's address in the gazetteer.
        Geocoded = "geocoded",
        /// Placed by a person (a client says so by sending this source).
        Manual = "manual",
        /// The address was looked up and matched no place: the record has no coordinates.
        Unresolved = "unresolved",
    }
);

crate::wire_enum!(
    /// How precise a record's coordinates are.
    LocationAccuracy {
        /// The building.
        Rooftop = "rooftop",
        /// The centre of the postal code's area.
        PostalCode = "postal_code",
        /// The centre of the city.
        City = "city",
    }
);

/// The borders shipped with the crate (they load: `points_fall_in_their_countries` checks).
fn boundaries() -> Option<&'static country_boundaries::CountryBoundaries> {
    static BOUNDARIES: std::sync::OnceLock<Option<country_boundaries::CountryBoundaries>> = std::sync::OnceLock::new();
    BOUNDARIES
        .get_or_init(|| {
            country_boundaries::CountryBoundaries::from_reader(country_boundaries::BOUNDARIES_ODBL_60X30).ok()
        })
        .as_ref()
}

/// The countries (ISO 3166-1 alpha-2) whose land holds `p`: none at sea, one almost
/// everywhere on land (OpenStreetMap's borders, simplified to about 1 km).
pub fn countries_at(p: GeoPoint) -> Vec<String> {
    let (Ok(at), Some(b)) = (country_boundaries::LatLon::new(p.lat, p.lng), boundaries()) else { return Vec::new() };
    b.ids(at).into_iter().filter(|id| id.len() == 2).map(str::to_string).collect()
}

/// Whether `p` contradicts `country`: it lies on the land of other countries only. A point
/// at sea (a port, a coastline the borders simplify away) contradicts no country.
pub fn contradicts_country(p: GeoPoint, country: &str) -> Option<Vec<String>> {
    let found = countries_at(p);
    (!found.is_empty() && !found.iter().any(|c| c == country)).then_some(found)
}

#[cfg(test)]
mod country_tests {
    use super::*;

    #[test]
    fn points_fall_in_their_countries() {
        assert_eq!(countries_at(GeoPoint { lat: 37.5665, lng: 126.978 }), vec!["KR"]);
        assert_eq!(countries_at(GeoPoint { lat: 52.52, lng: 13.405 }), vec!["DE"]);
        assert!(contradicts_country(GeoPoint { lat: 35.1796, lng: 129.0756 }, "KR").is_none());
        assert_eq!(contradicts_country(GeoPoint { lat: 35.6762, lng: 139.6503 }, "KR"), Some(vec!["JP".into()]));
        // The middle of the Atlantic is no country's land.
        let sea = GeoPoint { lat: 30.0, lng: -40.0 };
        assert!(contradicts_country(sea, "US").is_none(), "{:?}", countries_at(sea));
    }
}
