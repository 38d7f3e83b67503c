//! Per-client rate limiting: a token bucket per client IP address (the predecessor documents
//! 100 requests/s per IP with a burst of 200; its successor had one bucket for everyone, so
//! one noisy client starved the rest). Buckets live in shards, each behind its own short
//! lock, so clients rarely contend.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shards of the bucket map.
const SHARDS: usize = 16;
/// A shard holding more buckets than this forgets the full ones (clients gone quiet), at most
/// once per refill period: a bucket is full that long after its client's last request, so
/// looking more often finds nothing new and would cost a scan on every request.
const PRUNE_ABOVE: usize = 4096;

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is the IPv4 client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One shard: its buckets and when it last forgot the full ones.
#[derive(Debug, Default)]
struct Shard {
    buckets: HashMap<IpAddr, Bucket>,
    pruned: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    /// Allowed; whole tokens left and the time until the bucket is full again.
    Allow { remaining: u32, reset: Duration },
    /// Refused; when the next token arrives.
    Deny { retry_after: Duration },
}

/// Token buckets keyed by client address.
#[derive(Debug)]
pub(crate) struct Limiter {
    /// Tokens added per second.
    pub(crate) rate: f64,
    /// Bucket size.
    pub(crate) burst: f64,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl Limiter {
    /// `rate` requests per second per client, `burst` at once.
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        Limiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            hasher: Default::default(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Take one token from `client`'s bucket at `now`.
    pub(crate) fn check(&self, client: IpAddr, now: Instant) -> Decision {
        let client = canonical(client);
        let shard = &self.shards[(self.hasher.hash_one(client) as usize) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let refill = Duration::from_secs_f64(self.burst / self.rate);
        let due = shard
            .pruned
            .is_none_or(|t| now.saturating_duration_since(t) >= refill);
        if shard.buckets.len() > PRUNE_ABOVE && due {
            let (rate, burst) = (self.rate, self.burst);
            shard.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
            });
            shard.pruned = Some(now);
        }
        let b = shard.buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Decision::Allow {
                remaining: b.tokens.floor() as u32,
                reset: Duration::from_secs_f64((self.burst - b.tokens) / self.rate),
            }
        } else {
            Decision::Deny {
                retry_after: Duration::from_secs_f64((1.0 - b.tokens) / self.rate),
            }
        }
    }
}

/// An IP network (`ADDR/PREFIX`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parse `10.0.0.0/8`, `fd00::/8` or a single address.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not an IP address", a.escape_debug()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("prefix `{}` is not 0 to {max}", p.escape_debug()))?
        };
        Ok(Network { addr, prefix })
    }

    /// Whether `ip` is in this network.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match canonical(ip) {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((net, width), (host, host_width)) = (bits(self.addr), bits(ip));
        if width != host_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (host >> shift)
    }
}

/// The client of a request from `peer`: `peer` itself, unless it is a trusted proxy; then
/// the right-most `X-Forwarded-For` address that is not a trusted proxy.
pub(crate) fn client_ip(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[Network],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
        .collect();
    // From the right: each trusted hop names the one before it. An entry that is not an
    // address ends the walk at the last hop known.
    let mut client = peer;
    for raw in entries.into_iter().rev() {
        match raw.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    return ip;
                }
            }
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_forwarded_clients() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("fd00::1".parse().unwrap()));
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Network::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(
            Network::parse("192.0.2.7")
                .unwrap()
                .contains("192.0.2.7".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
        let trusted = [Network::parse("10.0.0.0/8").unwrap()];
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.2, 10.0.0.7".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        // The right-most address the trusted proxies did not add.
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "198.51.100.2".parse::<IpAddr>().unwrap()
        );
        // From an untrusted peer the header is ignored.
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &trusted), peer);
        // A garbage header leaves the proxy as the client.
        h.insert("x-forwarded-for", "not-an-ip".parse().unwrap());
        assert_eq!(client_ip(proxy, &h, &trusted), proxy);
    }

    #[test]
    fn burst_then_rate_per_client() {
        let l = Limiter::new(10, 3);
        let t0 = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for left in [2, 1, 0] {
            assert!(
                matches!(l.check(a, t0), Decision::Allow { remaining, .. } if remaining == left)
            );
        }
        let Decision::Deny { retry_after } = l.check(a, t0) else {
            panic!("fourth request allowed")
        };
        assert_eq!(retry_after, Duration::from_millis(100));
        // Another client is not affected.
        assert!(matches!(l.check(b, t0), Decision::Allow { .. }));
        // 100 ms later one token is back.
        assert!(matches!(
            l.check(a, t0 + Duration::from_millis(100)),
            Decision::Allow { remaining: 0, .. }
        ));
        // The mapped IPv6 form is the same client.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(matches!(
            l.check(mapped, t0 + Duration::from_millis(100)),
            Decision::Deny { .. }
        ));
    }

    #[test]
    fn quiet_clients_are_forgotten() {
        let l = Limiter::new(1000, 1);
        let t0 = Instant::now();
        for i in 0..(PRUNE_ABOVE * SHARDS * 2) as u32 {
            l.check(IpAddr::from(i.to_be_bytes()), t0);
        }
        // A second later every old bucket is full again: the next request in each shard
        // forgets them.
        let later = t0 + Duration::from_secs(1);
        for i in 0..1000u32 {
            l.check(IpAddr::from((i | 0xC000_0000).to_be_bytes()), later);
        }
        let total: usize = l
            .shards
            .iter()
            .map(|s| s.lock().unwrap().buckets.len())
            .sum();
        assert!(total <= 1000 + SHARDS, "{total} buckets kept");
    }
}
