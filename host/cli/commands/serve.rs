//! `cnsctl serve`: the flags of the recipe and bundle HTTP API, mapped to `cns_server`.

use crate::opts::{PluginOpts, RecipeDataOpts};
use crate::outcome::Outcome;
use anyhow::Result;
use clap::Args;
use std::time::Duration;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0: any free port, printed at start). Default:
    /// 0.0.0.0:$PORT when the PORT environment variable is set, else 0.0.0.0:8080.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,

    /// Requests per second one client (IP address) may send to /v1/ routes, as a token
    /// bucket refilled at this rate; 0 turns rate limiting off.
    #[arg(long, value_name = "N", default_value_t = 100, env = "CNS_RATE_LIMIT")]
    pub(crate) rate_limit: u32,

    /// Size of each client's token bucket: requests it may send at once.
    #[arg(long, value_name = "N", default_value_t = 200, env = "CNS_RATE_BURST")]
    pub(crate) rate_burst: u32,

    /// Bundles rendered at once (default: the number of CPUs); other bundle requests queue.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) max_renders: Option<u32>,

    /// Bundle requests that may wait for a render slot; beyond that they get 503.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub(crate) max_queued: usize,

    /// Seconds a bundle request may wait for a render slot before it gets 503.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) queue_timeout: u64,

    /// Largest request body accepted, in KiB; larger bodies get 413.
    #[arg(long, value_name = "KIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub(crate) max_body_kib: u64,

    /// Seconds a request's whole body has to arrive; a client that stalls or trickles gets 408
    /// and its connection is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) body_timeout: u64,

    /// Connections served at once; further clients wait in the listen backlog until one ends.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub(crate) max_connections: u32,

    /// Deadline of a bundle request in seconds (recipe and query requests: 30 at most);
    /// past it the answer is 504.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) request_timeout: u64,

    /// After SIGTERM or SIGINT, keep serving this many seconds with /ready answering 503
    /// (so load balancers stop sending), then stop accepting connections.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0,
        env = "CNS_DRAIN_DELAY"
    )]
    pub(crate) drain_delay: u64,

    /// Seconds a client has to send a request's headers (from connecting, or from the end of
    /// the previous request on a kept-alive connection); slower clients are disconnected.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) header_timeout: u64,

    /// Then wait at most this many seconds for requests in flight before exiting.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        env = "CNS_SHUTDOWN_TIMEOUT"
    )]
    pub(crate) shutdown_timeout: u64,

    /// A proxy or load balancer in front of the server (CIDR, e.g. 10.0.0.0/8; repeatable):
    /// for requests from it, the client is the right-most address in X-Forwarded-For that is
    /// not itself a trusted proxy (rate limits and logs are per client). Without it the
    /// header is ignored, so clients cannot choose their own address.
    #[arg(long, value_name = "CIDR")]
    pub(crate) trusted_proxy: Vec<String>,

    /// No access log (one JSON line per request on stderr).
    #[arg(long)]
    pub(crate) no_access_log: bool,

    /// MiB of rendered bundles kept for repeated requests (a bundle is a pure function of
    /// its request; least recently used first out); 0 turns the cache off. Every answer
    /// carries its ETag either way, and If-None-Match gets 304.
    #[arg(long, value_name = "MIB", default_value_t = 64, env = "CNS_CACHE_MIB", value_parser = clap::value_parser!(u64).range(0..=65536))]
    pub(crate) cache_mib: u64,

    #[command(flatten)]
    pub(crate) plugins: PluginOpts,
}

pub(crate) fn run(args: ServeArgs, data: &RecipeDataOpts) -> Result<Outcome> {
    let store = data.store()?;
    let config = cns_server::ServeConfig {
        listen: cns_server::listen_address(args.listen.as_deref())?,
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        max_renders: args.max_renders.map(|n| n as usize),
        max_queued: args.max_queued,
        queue_timeout: Duration::from_secs(args.queue_timeout),
        max_body: (args.max_body_kib as usize) << 10,
        body_timeout: Duration::from_secs(args.body_timeout),
        max_connections: args.max_connections as usize,
        request_timeout: Duration::from_secs(args.request_timeout),
        drain_delay: Duration::from_secs(args.drain_delay),
        header_timeout: Duration::from_secs(args.header_timeout),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        trusted_proxies: args.trusted_proxy,
        access_log: !args.no_access_log,
        cache_bytes: (args.cache_mib as usize) << 20,
    };
    let plugins = args.plugins.options();
    cns_server::run(
        config,
        store,
        Box::new(move || {
            let rt = cns_plugins::runtime(&plugins)?;
            Ok(cns_plugins::catalog(
                &plugins,
                &rt,
                cns_plugin_artifacts::require(),
            )?)
        }),
    )?;
    Ok(Outcome::Success)
}
