//! The probabilistic models of non-contractual repeat buying that predict a customer's value:
//! BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way") for the number of
//! future purchases and the probability that the customer is still alive, and Gamma-Gamma
//! (Fader and Hardie 2013, "The Gamma-Gamma model of monetary value") for the value of those
//! purchases. Both are fitted by maximum likelihood with argmin's Nelder-Mead over the
//! parameters' logarithms (they are all positive), as the reference implementation
//! (the `lifetimes` Python package) does, so the fits can be checked against it and against
//! the papers' CDNOW figures (the tests do).
//!
//! Time is in days: `x` repeat purchase days, `t_x` the day of the last one and `T` the age of
//! the customer, both counted from its first purchase.

use std::collections::HashMap;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use libm::lgamma;
use serde::{Deserialize, Serialize};

/// One customer's repeat-buying summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Repeat purchases (purchase days after the first).
    pub x: f64,
    /// When the last purchase was, from the first.
    pub t_x: f64,
    /// How long the customer has been one, from the first purchase to the analysis date.
    pub t: f64,
}

/// The BG/NBD parameters: purchase rates are Gamma(r, alpha) over customers, the dropout
/// probability after each purchase Beta(a, b).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "BgNbdParameters"))]
pub struct BgNbd {
    pub r: f64,
    /// In days.
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// The Gamma-Gamma parameters of one currency's purchase values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "GammaGammaParameters"))]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    /// In the currency's minor units.
    pub gamma: f64,
}

/// Why a model could not be fitted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("{0} customers with repeat purchases; the fit needs at least {MIN_REPEATERS}")]
    TooFew(usize),
    #[error("the optimizer did not converge: {0}")]
    Optimizer(String),
}

/// The fewest repeat customers a fit is tried with: below it the estimates are noise.
pub const MIN_REPEATERS: usize = 10;

fn log_sum_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

impl BgNbd {
    /// One customer's log-likelihood (the paper's equation 6).
    pub fn log_likelihood(&self, s: &Summary) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let Summary { x, t_x, t } = *s;
        let a1 = lgamma(r + x) - lgamma(r) + r * alpha.ln();
        let a2 = lgamma(a + b) + lgamma(b + x) - lgamma(b) - lgamma(a + b + x);
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln();
            a1 + a2 + log_sum_exp(a3, a4)
        } else {
            a1 + a2 + a3
        }
    }

    /// The probability that a customer with this history is still alive at `T`.
    pub fn probability_alive(&self, s: &Summary) -> f64 {
        if s.x <= 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ratio = (a / (b + s.x - 1.0)) * ((alpha + s.t) / (alpha + s.t_x)).powf(r + s.x);
        1.0 / (1.0 + ratio)
    }

    /// The expected number of purchases in the next `horizon` days (the paper's equation 10).
    pub fn expected_purchases(&self, s: &Summary, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let Summary { x, t_x, t } = *s;
        let z = horizon / (alpha + t + horizon);
        let hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let head = (a + b + x - 1.0) / (a - 1.0);
        let body = 1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * hyp;
        let alive = if x > 0.0 { 1.0 + (a / (b + x - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + x) } else { 1.0 };
        (head * body / alive).max(0.0)
    }

    /// The maximum-likelihood fit over the customers.
    pub fn fit(customers: &[Summary]) -> Result<(BgNbd, f64), FitError> {
        let repeaters = customers.iter().filter(|s| s.x > 0.0).count();
        if repeaters < MIN_REPEATERS {
            return Err(FitError::TooFew(repeaters));
        }
        let data = Indexed::of(customers);
        let cost = move |p: &[f64]| -> f64 {
            let m = BgNbd { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() };
            -data.log_likelihood(&m)
        };
        // Start where `lifetimes` does (every parameter 1), the rate scaled to the data.
        let mean_t = customers.iter().map(|s| s.t).sum::<f64>() / customers.len() as f64;
        let start = [0.0, mean_t.max(1.0).ln(), 0.0, 0.0];
        let (p, ll) = minimize(cost, &start)?;
        Ok((BgNbd { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() }, -ll))
    }
}

impl GammaGamma {
    /// One customer's log-likelihood: `x` repeat purchases of mean value `m`.
    pub fn log_likelihood(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        lgamma(p * x + q) - lgamma(p * x) - lgamma(q) + q * gamma.ln() + (p * x - 1.0) * m.ln() + (p * x) * x.ln()
            - (p * x + q) * (gamma + m * x).ln()
    }

    /// The mean value of a purchase over the population (needs `q > 1`).
    pub fn population_mean(&self) -> Option<f64> {
        (self.q > 1.0).then(|| self.p * self.gamma / (self.q - 1.0))
    }

    /// The expected value of a customer's future purchases, given `x` repeat purchases of mean
    /// value `m` (the population mean for a customer without repeat purchases).
    pub fn expected_value(&self, x: f64, m: f64) -> Option<f64> {
        let GammaGamma { p, q, gamma } = *self;
        if x <= 0.0 {
            return self.population_mean();
        }
        let denominator = p * x + q - 1.0;
        (denominator > 0.0).then(|| p * (gamma + m * x) / denominator)
    }

    /// The maximum-likelihood fit over customers with repeat purchases: `(x, mean value)`.
    pub fn fit(customers: &[(f64, f64)]) -> Result<(GammaGamma, f64), FitError> {
        let usable: Vec<[f64; 2]> =
            customers.iter().filter(|(x, m)| *x > 0.0 && *m > 0.0).map(|(x, m)| [*x, *m]).collect();
        if usable.len() < MIN_REPEATERS {
            return Err(FitError::TooFew(usable.len()));
        }
        // Values are fitted over their mean (minor units run to millions): gamma scales with
        // them, p and q do not, and the log-likelihood moves by a constant.
        let scale = usable.iter().map(|k| k[1]).sum::<f64>() / usable.len() as f64;
        let usable: Vec<[f64; 2]> = usable.into_iter().map(|[x, m]| [x, m / scale]).collect();
        let groups = Grouped::of(usable);
        // The same sum as `Σ GammaGamma::log_likelihood`, with ln m and ln x computed once and
        // the gamma functions once per distinct x.
        let mut xs: Vec<f64> = groups.keys.iter().map(|([x, _], _)| *x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let logs: Vec<(usize, f64, f64, f64, f64)> =
            groups.keys.iter().map(|([x, m], n)| (xs.partition_point(|v| v < x), *m, x.ln(), m.ln(), *n)).collect();
        let cost = move |v: &[f64]| -> f64 {
            let (p, q, gamma) = (v[0].exp(), v[1].exp(), v[2].exp());
            let base = q * gamma.ln() - lgamma(q);
            let per_x: Vec<f64> = xs.iter().map(|&x| base + lgamma(p * x + q) - lgamma(p * x)).collect();
            -logs
                .iter()
                .map(|&(xi, m, ln_x, ln_m, n)| {
                    let x = xs[xi];
                    n * (per_x[xi] + (p * x - 1.0) * ln_m + p * x * ln_x - (p * x + q) * (gamma + m * x).ln())
                })
                .sum::<f64>()
        };
        let (p, ll) = minimize(cost, &[0.0, 0.0, 0.0])?;
        // Back in the values' units: each customer's density gains −ln(scale).
        let n: f64 = customers.iter().filter(|(x, m)| *x > 0.0 && *m > 0.0).count() as f64;
        Ok((GammaGamma { p: p[0].exp(), q: p[1].exp(), gamma: p[2].exp() * scale }, -ll - n * scale.ln()))
    }
}

/// The customers' summaries with each distinct `x`, `t_x` and `T` numbered, so that one
/// evaluation of the likelihood computes each gamma function and logarithm once per distinct
/// value (a few hundred) rather than once per customer: the same sum as
/// `Σ BgNbd::log_likelihood`, term by term.
struct Indexed {
    xs: Vec<f64>,
    txs: Vec<f64>,
    ts: Vec<f64>,
    /// (x, t_x, T) indices and how many customers share them.
    groups: Vec<(usize, usize, usize, f64)>,
}

impl Indexed {
    fn of(customers: &[Summary]) -> Indexed {
        fn slot(values: &mut Vec<f64>, index: &mut HashMap<u64, usize>, v: f64) -> usize {
            *index.entry(v.to_bits()).or_insert_with(|| {
                values.push(v);
                values.len() - 1
            })
        }
        let (mut xs, mut txs, mut ts) = (Vec::new(), Vec::new(), Vec::new());
        let (mut xi, mut txi, mut ti) = (HashMap::new(), HashMap::new(), HashMap::new());
        let mut counts: HashMap<(usize, usize, usize), f64> = HashMap::new();
        for s in customers {
            let k = (slot(&mut xs, &mut xi, s.x), slot(&mut txs, &mut txi, s.t_x), slot(&mut ts, &mut ti, s.t));
            *counts.entry(k).or_insert(0.0) += 1.0;
        }
        let mut groups: Vec<(usize, usize, usize, f64)> =
            counts.into_iter().map(|((a, b, c), n)| (a, b, c, n)).collect();
        // A fixed order: the sum, and so the fit, is the same on every run.
        groups.sort_by_key(|p| (p.0, p.1, p.2));
        Indexed { xs, txs, ts, groups }
    }

    fn log_likelihood(&self, m: &BgNbd) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let head = lgamma(a + b) - lgamma(b) - lgamma(r) + r * alpha.ln();
        // Per x: A1 + A2 without their T part, and ln(a / (b + x − 1)).
        let per_x: Vec<(f64, f64)> = self
            .xs
            .iter()
            .map(|&x| {
                let a12 = head + lgamma(r + x) + lgamma(b + x) - lgamma(a + b + x);
                let a4 = if x > 0.0 { a.ln() - (b + x - 1.0).ln() } else { 0.0 };
                (a12, a4)
            })
            .collect();
        let ln_t: Vec<f64> = self.ts.iter().map(|t| (alpha + t).ln()).collect();
        let ln_tx: Vec<f64> = self.txs.iter().map(|t| (alpha + t).ln()).collect();
        self.groups
            .iter()
            .map(|&(xi, txi, ti, n)| {
                let x = self.xs[xi];
                let (a12, a4) = per_x[xi];
                let a3 = -(r + x) * ln_t[ti];
                let ll = if x > 0.0 { a12 + log_sum_exp(a3, a4 - (r + x) * ln_tx[txi]) } else { a12 + a3 };
                n * ll
            })
            .sum()
    }
}

/// Equal inputs counted once, with their number (customers share whole-day summaries, so a
/// large base has far fewer distinct ones).
struct Grouped<const N: usize> {
    keys: Vec<([f64; N], f64)>,
}

impl<const N: usize> Grouped<N> {
    fn of(items: impl IntoIterator<Item = [f64; N]>) -> Self {
        let mut counts: HashMap<[u64; N], ([f64; N], f64)> = HashMap::new();
        for k in items {
            counts.entry(k.map(f64::to_bits)).or_insert((k, 0.0)).1 += 1.0;
        }
        let mut keys: Vec<([f64; N], f64)> = counts.into_values().collect();
        // A fixed order: the sum, and so the fit, is the same on every run.
        keys.sort_by(|a, b| {
            a.0.iter()
                .zip(b.0.iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Grouped { keys }
    }
}

/// The parameters' logarithms stay within ±this (e^12 ≈ 163,000).
const LOG_BOUND: f64 = 12.0;

#[derive(Clone, Copy)]
struct Objective<'a>(&'a dyn Fn(&[f64]) -> f64);

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, argmin::core::Error> {
        // Parameters stay within e^±LOG_BOUND: where the likelihood keeps rising towards a
        // boundary (no dropout heterogeneity left in the data: a and b grow without end), the
        // simplex settles at the wall instead of walking on forever. Beyond it the cost is the
        // wall's plus a steep slope, finite, so that the simplex's spread still shrinks.
        let inside: Vec<f64> = p.iter().map(|v| v.clamp(-LOG_BOUND, LOG_BOUND)).collect();
        let excess: f64 = p.iter().zip(&inside).map(|(v, w)| (v - w).powi(2)).sum();
        let c = (self.0)(&inside);
        // Outside the parameters' domain the likelihood is not a number: the simplex steps back.
        Ok(if c.is_finite() { c + 1e6 * excess } else { f64::MAX })
    }
}

/// Nelder-Mead from `start`, restarted from its best point until it stops improving (a
/// collapsed simplex can stall short of the optimum).
fn minimize(cost: impl Fn(&[f64]) -> f64, start: &[f64]) -> Result<(Vec<f64>, f64), FitError> {
    let objective = Objective(&cost);
    let mut best = start.to_vec();
    let mut best_cost = f64::MAX;
    for _ in 0..4 {
        let mut simplex = vec![best.clone()];
        for i in 0..best.len() {
            let mut v = best.clone();
            v[i] += 0.5;
            simplex.push(v);
        }
        let solver =
            NelderMead::new(simplex).with_sd_tolerance(1e-12).map_err(|e| FitError::Optimizer(e.to_string()))?;
        let res = Executor::new(objective, solver)
            .configure(|s| s.max_iters(2000))
            .run()
            .map_err(|e| FitError::Optimizer(e.to_string()))?;
        let state = res.state();
        let (Some(p), c) = (state.get_best_param(), state.get_best_cost()) else {
            return Err(FitError::Optimizer("no parameters".into()));
        };
        let improved = best_cost - c > 1e-9 * c.abs().max(1.0);
        if c < best_cost {
            best = p.clone();
            best_cost = c;
        }
        if !improved {
            break;
        }
    }
    if !best_cost.is_finite() || best_cost == f64::MAX {
        return Err(FitError::Optimizer("the likelihood is not finite at any point tried".into()));
    }
    Ok((best, best_cost))
}

/// Gauss's hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, by its series (the BG/NBD
/// expectation needs it at z = horizon / (alpha + T + horizon)).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..200_000 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() < 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CDNOW summary of the BG/NBD paper (2,357 customers of the first quarter of 1997,
    /// 39 weeks; shipped with the `lifetimes` package, MIT): `x`, `t_x`, `T` in weeks and
    /// `zbar`, the mean value of the repeat purchases in dollars.
    fn cdnow() -> Vec<(Summary, f64)> {
        let text = include_str!("../tests/data/cdnow_summary.csv");
        text.lines()
            .skip(1)
            .map(|l| {
                let v: Vec<f64> = l.split(',').map(|f| f.parse().unwrap()).collect();
                (Summary { x: v[1], t_x: v[2], t: v[3] }, v[4])
            })
            .collect()
    }

    #[test]
    fn bgnbd_fit_reproduces_the_papers_cdnow_parameters() {
        let data: Vec<Summary> = cdnow().into_iter().map(|(s, _)| s).collect();
        let (m, ll) = BgNbd::fit(&data).unwrap();
        // Fader, Hardie and Lee (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793,
        // b = 2.426, log-likelihood -9582.4.
        assert!((m.r - 0.243).abs() < 0.0005, "{m:?}");
        assert!((m.alpha - 4.414).abs() < 0.0005, "{m:?}");
        assert!((m.a - 0.793).abs() < 0.0005, "{m:?}");
        assert!((m.b - 2.426).abs() < 0.0005, "{m:?}");
        assert!((ll - -9582.4).abs() < 0.05, "{ll}");
    }

    #[test]
    fn bgnbd_conditional_expectation_matches_the_paper() {
        let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        // The paper's worked example: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in
        // the next 39 weeks.
        let s = Summary { x: 2.0, t_x: 30.43, t: 38.86 };
        assert!((m.expected_purchases(&s, 39.0) - 1.226).abs() < 0.001, "{}", m.expected_purchases(&s, 39.0));
        // P(alive) by hand: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))
        //   = 1 / (1 + 0.793/3.426 * (43.274/34.844)^2.243) = 1 / (1 + 0.23147 * 1.62572).
        let by_hand = 1.0 / (1.0 + 0.793 / 3.426 * (43.274f64 / 34.844).powf(2.243));
        assert!((m.probability_alive(&s) - by_hand).abs() < 1e-12);
        assert!((by_hand - 0.7266).abs() < 0.001);
        // Without repeat purchases a customer is alive for the model.
        assert_eq!(m.probability_alive(&Summary { x: 0.0, t_x: 0.0, t: 38.86 }), 1.0);
        // More recent buyers expect more; longer horizons expect more.
        let late = Summary { x: 2.0, t_x: 10.0, t: 38.86 };
        assert!(m.expected_purchases(&late, 39.0) < m.expected_purchases(&s, 39.0));
        assert!(m.expected_purchases(&s, 52.0) > m.expected_purchases(&s, 39.0));
    }

    #[test]
    fn gamma_gamma_fit_reproduces_the_cdnow_parameters() {
        let data: Vec<(f64, f64)> = cdnow().into_iter().map(|(s, z)| (s.x, z)).collect();
        let (m, _) = GammaGamma::fit(&data).unwrap();
        // The reference implementation's documented fit over the 946 repeat buyers
        // (`lifetimes`' GammaGammaFitter): p = 6.25, q = 3.74, v = 15.45.
        assert!((m.p - 6.25).abs() < 0.005, "{m:?}");
        assert!((m.q - 3.74).abs() < 0.005, "{m:?}");
        assert!((m.gamma - 15.45).abs() < 0.005, "{m:?}");
        // The population mean p * gamma / (q - 1) and a customer's expectation, by hand:
        // x = 2, mean 22.35: 6.25 * (15.44 + 44.70) / (12.5 + 3.74 - 1).
        let g = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
        assert!((g.population_mean().unwrap() - 6.25 * 15.44 / 2.74).abs() < 1e-9);
        assert!((g.expected_value(2.0, 22.35).unwrap() - 6.25 * 60.14 / 15.24).abs() < 1e-9);
    }

    #[test]
    fn fits_need_repeat_customers() {
        let one = [Summary { x: 1.0, t_x: 3.0, t: 9.0 }; 3];
        assert_eq!(BgNbd::fit(&one), Err(FitError::TooFew(3)));
        assert_eq!(GammaGamma::fit(&[(0.0, 0.0); 40]), Err(FitError::TooFew(0)));
    }

    #[test]
    fn the_series_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z.
        for z in [0.1, 0.5, 0.9, 0.99] {
            let closed = -(1.0f64 - z).ln() / z;
            assert!((hyp2f1(1.0, 1.0, 2.0, z) - closed).abs() < 1e-9 * closed, "{z}");
        }
        // 2F1(a, b; b; z) = (1 - z)^-a.
        assert!((hyp2f1(0.7, 2.5, 2.5, 0.6) - 0.4f64.powf(-0.7)).abs() < 1e-12);
    }
}
