//! RFM: recency, frequency and monetary value, each scored 1 to 5 by quintiles of the base,
//! and the named segment of each (recency, frequency) cell.
//!
//! The score of a value among `n` is `1 + floor(5 × w / n)`, where `w` is the number of
//! customers whose value is strictly worse (more days for recency; fewer purchases or less
//! revenue for frequency and monetary). Ties therefore share a score, the one of the first of
//! them, and a tie never splits across a quintile's edge.

use serde::{Deserialize, Serialize};

use crm_core::wire_enum;

/// Scores of `values` (higher is better) by the quintile rule, in their order.
pub fn scores(values: &[f64]) -> Vec<u8> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    values
        .iter()
        .map(|v| {
            let worse = sorted.partition_point(|s| s.total_cmp(v).is_lt());
            score_of(worse, n)
        })
        .collect()
}

fn score_of(worse: usize, n: usize) -> u8 {
    if n == 0 {
        return 1;
    }
    (1 + (5 * worse) / n).min(5) as u8
}

/// The smallest value (higher is better) that reaches each score 2 to 5 in a base, so that a
/// customer analysed alone, between two refreshes, is scored against the last refresh's base.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "RfmBreakpoints"))]
pub struct Breakpoints {
    /// `thresholds[i]` is the lowest value of the base that scores at least `i + 2`; absent
    /// when none does (as in a base whose values are all equal). A value scores 1 plus the
    /// number of thresholds it reaches: a value of the base scores as the quintile rule says,
    /// a value between two of the base's scores as the lower one.
    pub thresholds: Vec<Option<f64>>,
}

impl Breakpoints {
    pub fn of(values: &[f64]) -> Breakpoints {
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let thresholds = (2..=5u8)
            .map(|s| {
                // The first value (in order) whose strictly-worse count reaches the score.
                let mut i = 0;
                while i < n {
                    let worse = sorted.partition_point(|x| x.total_cmp(&sorted[i]).is_lt());
                    if score_of(worse, n) >= s {
                        return Some(sorted[i]);
                    }
                    // The next distinct value.
                    i = sorted.partition_point(|x| x.total_cmp(&sorted[i]).is_le());
                }
                None
            })
            .collect();
        Breakpoints { thresholds }
    }

    /// The score of `value` against the base these breakpoints came from.
    pub fn score(&self, value: f64) -> u8 {
        1 + self.thresholds.iter().filter(|t| t.is_some_and(|t| value >= t)).count() as u8
    }
}

wire_enum!(
    /// The named groups of RFM cells, by recency (R) and frequency (F) score (docs/ANALYTICS.md
    /// has the table).
    RfmSegment {
        /// R 5, F 4–5: bought lately and often.
        Champions = "champions",
        /// R 3–4, F 4–5: buy often, lately enough.
        Loyal = "loyal",
        /// R 4–5, F 2–3: recent buyers with a few purchases.
        PotentialLoyalists = "potential_loyalists",
        /// R 5, F 1: their first purchase was lately.
        NewCustomers = "new_customers",
        /// R 4, F 1: bought lately, once.
        Promising = "promising",
        /// R 3, F 3: average on both.
        NeedAttention = "need_attention",
        /// R 3, F 1–2: below average, slipping.
        AboutToSleep = "about_to_sleep",
        /// R 1–2, F 3–4: bought often, long ago.
        AtRisk = "at_risk",
        /// R 1–2, F 5: the best buyers once, not lately.
        CantLose = "cant_lose",
        /// R 2, F 1–2: few purchases, long ago.
        Hibernating = "hibernating",
        /// R 1, F 1–2: the oldest and rarest.
        Lost = "lost",
    }
);

impl RfmSegment {
    /// The segment of a recency and a frequency score.
    pub fn of(r: u8, f: u8) -> RfmSegment {
        match (r, f) {
            (5.., 4..) => RfmSegment::Champions,
            (3 | 4, 4..) => RfmSegment::Loyal,
            (4.., 2 | 3) => RfmSegment::PotentialLoyalists,
            (5.., _) => RfmSegment::NewCustomers,
            (4, _) => RfmSegment::Promising,
            (3, 3) => RfmSegment::NeedAttention,
            (3, _) => RfmSegment::AboutToSleep,
            (_, 5..) => RfmSegment::CantLose,
            (_, 3 | 4) => RfmSegment::AtRisk,
            (2, _) => RfmSegment::Hibernating,
            _ => RfmSegment::Lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_with_ties() {
        // Ten values, three tied at 4: strictly worse counts 0,1,2,3,3,3,6,7,8,9 over n = 10,
        // so 1 + floor(5w/10) = 1,1,2,2,2,2,4,4,5,5: the ties take the score of the first.
        let v = [1.0, 2.0, 3.0, 4.0, 4.0, 4.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(scores(&v), vec![1, 1, 2, 2, 2, 2, 4, 4, 5, 5]);
        // Order does not matter.
        assert_eq!(scores(&[10.0, 1.0, 4.0]), vec![4, 1, 2]);
        // All equal: everyone is 1.
        assert_eq!(scores(&[3.0; 4]), vec![1; 4]);
        let b = Breakpoints::of(&v);
        // No value scores 3: the lowest that scores at least 3 is 7 (which scores 4).
        assert_eq!(b.thresholds, vec![Some(3.0), Some(7.0), Some(7.0), Some(9.0)]);
        for (x, s) in v.iter().zip(scores(&v)) {
            assert_eq!(b.score(*x), s, "{x}");
        }
        // A value between the base's values scores as the highest one it reaches.
        assert_eq!(b.score(8.5), 4);
        assert_eq!(b.score(0.0), 1);
        assert_eq!(b.score(100.0), 5);
    }

    #[test]
    fn every_cell_has_one_segment() {
        assert_eq!(RfmSegment::of(5, 5), RfmSegment::Champions);
        assert_eq!(RfmSegment::of(4, 4), RfmSegment::Loyal);
        assert_eq!(RfmSegment::of(5, 2), RfmSegment::PotentialLoyalists);
        assert_eq!(RfmSegment::of(5, 1), RfmSegment::NewCustomers);
        assert_eq!(RfmSegment::of(4, 1), RfmSegment::Promising);
        assert_eq!(RfmSegment::of(3, 3), RfmSegment::NeedAttention);
        assert_eq!(RfmSegment::of(3, 1), RfmSegment::AboutToSleep);
        assert_eq!(RfmSegment::of(2, 4), RfmSegment::AtRisk);
        assert_eq!(RfmSegment::of(1, 5), RfmSegment::CantLose);
        assert_eq!(RfmSegment::of(2, 2), RfmSegment::Hibernating);
        assert_eq!(RfmSegment::of(1, 1), RfmSegment::Lost);
        let mut seen = std::collections::BTreeSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                seen.insert(RfmSegment::of(r, f).as_str());
            }
        }
        assert_eq!(seen.len(), RfmSegment::ALL.len());
    }
}
