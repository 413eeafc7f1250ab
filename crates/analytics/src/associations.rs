//! Product associations mined from purchase baskets (docs/ANALYTICS.md): for products X and
//! Y, over the N baskets (purchases) of the base,
//!
//! - support(X → Y) = baskets holding both / N,
//! - confidence(X → Y) = baskets holding both / baskets holding X,
//! - lift(X → Y) = confidence(X → Y) / (baskets holding Y / N).
//!
//! A rule is kept when it reaches the settings' minimum support, confidence and lift. The
//! customers who bought X are X's look-alikes: a customer who owns X and not Y is offered Y
//! by the rule (cross-sell); within a product family, the next pricier product than the
//! dearest it owns is its up-sell.

use std::collections::{BTreeMap, HashMap};

use crm_core::{Money, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::products;
use crm_db::types::DbUuid;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// One association rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub antecedent: uuid::Uuid,
    pub consequent: uuid::Uuid,
    /// Baskets holding both.
    pub baskets: i64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
}

/// The thresholds a rule must reach.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub min_support: f64,
    pub min_confidence: f64,
    pub min_lift: f64,
}

/// The rules over `baskets` (each the distinct products of one purchase), strongest first per
/// antecedent (confidence, then lift, then the consequent's id).
pub fn mine(baskets: &[Vec<uuid::Uuid>], t: Thresholds) -> Vec<Rule> {
    // Products numbered densely, so that pairs count in a map of two small integers.
    let mut index: HashMap<uuid::Uuid, u32> = HashMap::new();
    let mut products: Vec<uuid::Uuid> = Vec::new();
    let mut single: Vec<u64> = Vec::new();
    let mut pairs: HashMap<(u32, u32), u64> = HashMap::new();
    let mut items: Vec<u32> = Vec::new();
    for basket in baskets {
        items.clear();
        for p in basket {
            let i = *index.entry(*p).or_insert_with(|| {
                products.push(*p);
                single.push(0);
                (products.len() - 1) as u32
            });
            items.push(i);
        }
        items.sort_unstable();
        items.dedup();
        for (k, &a) in items.iter().enumerate() {
            single[a as usize] += 1;
            for &b in &items[k + 1..] {
                *pairs.entry((a, b)).or_insert(0) += 1;
            }
        }
    }
    let n = baskets.len() as f64;
    let mut rules = Vec::new();
    for ((a, b), both) in pairs {
        let support = both as f64 / n;
        if support < t.min_support {
            continue;
        }
        for (x, y) in [(a, b), (b, a)] {
            let confidence = both as f64 / single[x as usize] as f64;
            let lift = confidence / (single[y as usize] as f64 / n);
            if confidence >= t.min_confidence && lift >= t.min_lift {
                rules.push(Rule {
                    antecedent: products[x as usize],
                    consequent: products[y as usize],
                    baskets: both as i64,
                    support,
                    confidence,
                    lift,
                });
            }
        }
    }
    rules.sort_by(|p, q| {
        p.antecedent
            .cmp(&q.antecedent)
            .then(q.confidence.total_cmp(&p.confidence))
            .then(q.lift.total_cmp(&p.lift))
            .then(p.consequent.cmp(&q.consequent))
    });
    rules
}

/// The rules by antecedent.
pub fn by_antecedent(rules: Vec<Rule>) -> BTreeMap<uuid::Uuid, Vec<Rule>> {
    let mut out: BTreeMap<uuid::Uuid, Vec<Rule>> = BTreeMap::new();
    for r in rules {
        out.entry(r.antecedent).or_default().push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_confidence_and_lift_by_hand() {
        let [a, b, c, d] = [1u128, 2, 3, 4].map(uuid::Uuid::from_u128);
        // Ten baskets: {a,b} ×4, {a} ×1, {b,c} ×1, {c} ×2, {d} ×2.
        let mut baskets = vec![vec![a, b]; 4];
        baskets.push(vec![a]);
        baskets.push(vec![b, c]);
        baskets.extend(vec![vec![c]; 2]);
        baskets.extend(vec![vec![d, d]; 2]);
        let all = Thresholds { min_support: 0.0, min_confidence: 0.0, min_lift: 0.0 };
        let rules = mine(&baskets, all);
        let find = |x, y| rules.iter().find(|r| r.antecedent == x && r.consequent == y).cloned();
        // a in 5 baskets, b in 5, both in 4: support 0.4, confidence a→b 4/5 = 0.8, lift
        // 0.8 / (5/10) = 1.6; b→a the same.
        let ab = find(a, b).unwrap();
        assert_eq!((ab.baskets, ab.support, ab.confidence), (4, 0.4, 0.8));
        assert!((ab.lift - 1.6).abs() < 1e-12);
        // b→c: both 1, b 5: confidence 0.2; c in 3 baskets: lift 0.2 / 0.3.
        let bc = find(b, c).unwrap();
        assert!((bc.confidence - 0.2).abs() < 1e-12 && (bc.lift - 0.2 / 0.3).abs() < 1e-12);
        // c→b: 1/3, lift (1/3) / 0.5.
        assert!((find(c, b).unwrap().lift - (1.0 / 3.0) / 0.5).abs() < 1e-12);
        // A product twice in one basket counts once; d is bought with nothing.
        assert!(rules.iter().all(|r| r.antecedent != d && r.consequent != d));
        assert_eq!(rules.len(), 4);
        // Thresholds: lift ≥ 1 keeps a↔b only; support ≥ 0.5 keeps nothing.
        let strong = mine(&baskets, Thresholds { min_support: 0.0, min_confidence: 0.0, min_lift: 1.0 });
        assert_eq!(strong.len(), 2);
        assert!(mine(&baskets, Thresholds { min_support: 0.5, min_confidence: 0.0, min_lift: 0.0 }).is_empty());
    }
}

/// A product as offers see it.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogProduct {
    pub sku: String,
    pub name: String,
    pub family: Option<String>,
    pub price: Option<Money>,
    /// The product that replaces it.
    pub successor: Option<uuid::Uuid>,
}

/// The live, active products.
pub fn catalog(conn: &mut AnyConnection) -> QueryResult<HashMap<uuid::Uuid, CatalogProduct>> {
    type Row = (DbUuid, String, String, Option<String>, Option<i64>, Option<String>, Option<DbUuid>);
    let rows: Vec<Row> = products::table
        .filter(products::archived_at.is_null())
        .filter(products::active.eq(true))
        .select((
            products::id,
            products::sku,
            products::name,
            products::family,
            products::list_price_minor,
            products::list_price_currency,
            products::successor_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, sku, name, family, minor, currency, successor)| {
            let price = minor.zip(currency).map(|(m, c)| Money::new(m, &c));
            (id.0, CatalogProduct { sku, name, family, price, successor: successor.map(|s| s.0) })
        })
        .collect())
}

wire_enum!(
    /// What an offer proposes.
    OfferKind {
        /// A product bought with one the customer owns.
        CrossSell = "cross_sell",
        /// The next pricier product of a family the customer buys.
        UpSell = "up_sell",
        /// The product that replaces one the customer buys.
        SwitchSell = "switch_sell",
    }
);

/// A product to offer a customer, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Offer {
    pub kind: OfferKind,
    pub product_id: uuid::Uuid,
    pub sku: String,
    pub name: String,
    /// The product it owns that the offer comes from.
    pub because_of: uuid::Uuid,
    /// Cross-sell: the rule's confidence and lift.
    pub confidence: Option<f64>,
    pub lift: Option<f64>,
    pub reason: String,
}

/// At most this many cross-sell offers per customer, the strongest.
pub const CROSS_SELL_OFFERS: usize = 3;
/// At most this many up-sell offers per customer, the smallest steps up.
pub const UP_SELL_OFFERS: usize = 2;

/// The offers for a customer owning `owned`: the strongest rules from what it owns to what it
/// does not (per product its best rule: confidence, then lift, then SKU), then the successors of
/// what it owns, then the up-sells.
pub fn offers(
    owned: &[uuid::Uuid],
    rules: &BTreeMap<uuid::Uuid, Vec<Rule>>,
    catalog: &HashMap<uuid::Uuid, CatalogProduct>,
) -> Vec<Offer> {
    let owns = |p: &uuid::Uuid| owned.binary_search(p).is_ok();
    let mut best: BTreeMap<uuid::Uuid, &Rule> = BTreeMap::new();
    for x in owned {
        for r in rules.get(x).into_iter().flatten() {
            if owns(&r.consequent) || !catalog.contains_key(&r.consequent) {
                continue;
            }
            let e = best.entry(r.consequent).or_insert(r);
            if (r.confidence, r.lift) > (e.confidence, e.lift) {
                *e = r;
            }
        }
    }
    let mut cross: Vec<(&Rule, &CatalogProduct)> =
        best.values().filter_map(|r| catalog.get(&r.consequent).map(|p| (*r, p))).collect();
    cross.sort_by(|(a, pa), (b, pb)| {
        b.confidence.total_cmp(&a.confidence).then(b.lift.total_cmp(&a.lift)).then(pa.sku.cmp(&pb.sku))
    });
    let mut out: Vec<Offer> = cross
        .into_iter()
        .take(CROSS_SELL_OFFERS)
        .map(|(r, p)| {
            let from = catalog.get(&r.antecedent).map(|x| x.name.as_str()).unwrap_or("a product it owns");
            Offer {
                kind: OfferKind::CrossSell,
                product_id: r.consequent,
                sku: p.sku.clone(),
                name: p.name.clone(),
                because_of: r.antecedent,
                confidence: Some(r.confidence),
                lift: Some(r.lift),
                reason: format!(
                    "{:.0}% of the purchases with {from} also hold {} ({:.1} times its usual share)",
                    r.confidence * 100.0,
                    p.name,
                    r.lift
                ),
            }
        })
        .collect();

    // Switch-sell: the successor of a product it owns, when it does not own it yet.
    for id in owned {
        let Some(next) = catalog.get(id).and_then(|p| p.successor) else { continue };
        let Some(p) = catalog.get(&next).filter(|_| !owns(&next)) else { continue };
        let from = catalog.get(id).map(|x| x.name.as_str()).unwrap_or("");
        out.push(Offer {
            kind: OfferKind::SwitchSell,
            product_id: next,
            sku: p.sku.clone(),
            name: p.name.clone(),
            because_of: *id,
            confidence: None,
            lift: None,
            reason: format!("buys {from}, which {} replaces", p.name),
        });
    }

    // Up-sell: per family, the cheapest product dearer than the dearest one owned (same
    // currency).
    let mut top: BTreeMap<&str, (&Money, uuid::Uuid)> = BTreeMap::new();
    for id in owned {
        let Some(p) = catalog.get(id) else { continue };
        let (Some(family), Some(price)) = (p.family.as_deref(), p.price.as_ref()) else { continue };
        let e = top.entry(family).or_insert((price, *id));
        if price.currency == e.0.currency && price.amount_minor > e.0.amount_minor {
            *e = (price, *id);
        }
    }
    let mut ups: Vec<(f64, Offer)> = Vec::new();
    for (family, (price, from)) in top {
        let next = catalog
            .iter()
            .filter(|(id, p)| {
                !owns(id)
                    && p.family.as_deref() == Some(family)
                    && p.price
                        .as_ref()
                        .is_some_and(|q| q.currency == price.currency && q.amount_minor > price.amount_minor)
            })
            .min_by(|(_, a), (_, b)| {
                let (pa, pb) = (a.price.as_ref().map(|m| m.amount_minor), b.price.as_ref().map(|m| m.amount_minor));
                pa.cmp(&pb).then(a.sku.cmp(&b.sku))
            });
        if let Some((id, p)) = next {
            let owned_name = catalog.get(&from).map(|x| x.name.as_str()).unwrap_or("");
            // How far up the step is: the next price over the owned one.
            let step = p.price.as_ref().map(|q| q.amount_minor.0 as f64).unwrap_or(f64::MAX)
                / (price.amount_minor.0 as f64).max(1.0);
            ups.push((
                step,
                Offer {
                    kind: OfferKind::UpSell,
                    product_id: *id,
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    because_of: from,
                    confidence: None,
                    lift: None,
                    reason: format!("buys {owned_name} ({family}); {} is the next tier up", p.name),
                },
            ));
        }
    }
    // The smallest steps up first, at most UP_SELL_OFFERS.
    ups.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.sku.cmp(&b.1.sku)));
    out.extend(ups.into_iter().take(UP_SELL_OFFERS).map(|(_, o)| o));
    out
}
