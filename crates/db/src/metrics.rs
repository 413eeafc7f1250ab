//! What the database handle measures for `/metrics`: how long statements take, and how long
//! units of work wait for a connection. Prometheus histograms (`prometheus-client`), shared by
//! every clone of the handle; the application registers them.

use prometheus_client::metrics::histogram::Histogram;

/// Upper bounds of the buckets, in seconds: 100 µs to about 13 s.
fn buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 18)
}

/// The handle's histograms.
#[derive(Clone, Debug)]
pub struct DbMetrics {
    /// Every statement, from sending it to its last row read (diesel's query events).
    pub statement_seconds: Histogram,
    /// Every checkout of a connection from the pool.
    pub pool_wait_seconds: Histogram,
}

impl Default for DbMetrics {
    fn default() -> Self {
        DbMetrics { statement_seconds: Histogram::new(buckets()), pool_wait_seconds: Histogram::new(buckets()) }
    }
}
