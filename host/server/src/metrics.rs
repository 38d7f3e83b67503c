//! `/metrics`: Prometheus counters under the predecessor's names (`cns_http_*`,
//! `cns_rate_limit_rejects_total`) so existing dashboards keep working, plus plugin failures
//! and the bundle render queue.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: String,
}

/// Labels of a request duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub(crate) method: String,
    pub(crate) path: String,
}

/// Labels of a plugin failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PluginLabels {
    pub(crate) plugin: String,
    pub(crate) kind: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The server's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub(crate) in_flight: Gauge,
    pub(crate) rate_limit_rejects: Counter,
    pub(crate) plugin_errors: Family<PluginLabels, Counter>,
    pub(crate) renders_in_flight: Gauge,
    pub(crate) renders_queued: Gauge,
    pub(crate) bundles: Counter,
    pub(crate) cache_hits: Counter,
    pub(crate) cache_misses: Counter,
    pub(crate) cache_evictions: Counter,
    pub(crate) cache_bytes: Gauge,
}

impl Metrics {
    /// All metrics at zero.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let in_flight = Gauge::default();
        let rate_limit_rejects = Counter::default();
        let plugin_errors = Family::<PluginLabels, Counter>::default();
        let renders_in_flight = Gauge::default();
        let renders_queued = Gauge::default();
        let bundles = Counter::default();
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let cache_evictions = Counter::default();
        let cache_bytes = Gauge::default();
        registry.register(
            "cns_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "cns_http_request_duration",
            "Time to answer an HTTP request, by method and route",
            Unit::Seconds,
            duration.clone(),
        );
        registry.register(
            "cns_http_requests_in_flight",
            "HTTP requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "cns_rate_limit_rejects",
            "Requests refused with 429 because the client's token bucket was empty",
            rate_limit_rejects.clone(),
        );
        registry.register(
            "cns_plugin_errors",
            "Plugin calls that failed, by plugin and kind (timeout, trap, memory, refused, error, bad_output)",
            plugin_errors.clone(),
        );
        registry.register(
            "cns_bundle_renders_in_flight",
            "Bundles being rendered",
            renders_in_flight.clone(),
        );
        registry.register(
            "cns_bundle_renders_queued",
            "Bundle requests waiting for a render slot",
            renders_queued.clone(),
        );
        registry.register(
            "cns_bundles_rendered",
            "Bundles rendered and sent",
            bundles.clone(),
        );
        registry.register(
            "cns_bundle_cache_hits",
            "Bundle requests answered from the cache of rendered bundles",
            cache_hits.clone(),
        );
        registry.register(
            "cns_bundle_cache_misses",
            "Bundle requests the cache did not hold (rendered, then kept)",
            cache_misses.clone(),
        );
        registry.register(
            "cns_bundle_cache_evictions",
            "Rendered bundles pushed out of the cache to keep it within --cache-mib",
            cache_evictions.clone(),
        );
        registry.register_with_unit(
            "cns_bundle_cache",
            "Bytes the cache of rendered bundles holds",
            Unit::Bytes,
            cache_bytes.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            in_flight,
            rate_limit_rejects,
            plugin_errors,
            renders_in_flight,
            renders_queued,
            bundles,
            cache_hits,
            cache_misses,
            cache_evictions,
            cache_bytes,
        }
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
