//! Content-addressed bundle answers: a bundle is a pure function of the canonical request
//! (recipe, validated options, the archive asked for, the plugins' digests, the recipe data
//! and cnsctl's version), so a repeated request is answered from a bounded in-memory cache,
//! least recently used first out, without rendering; and every answer carries its strong
//! `ETag` (the bundle tree's digest and the archive form), so a client that holds it gets
//! `304 Not Modified` from `If-None-Match`. A request whose raw bytes (query, content type,
//! archive form, body) were seen before finds its answer through an alias without parsing
//! anything; one that differs only in how it is written finds it by its canonical key.

use bytes::Bytes;
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The archive a client asked for (each has its own bytes, hence its own `ETag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `application/zip`.
    Zip,
    /// `application/zip` sent with `Content-Encoding: gzip`.
    ZipGzip,
    /// `application/gzip` (`.tar.gz`).
    TarGz,
}

impl Form {
    fn tag(self) -> &'static str {
        match self {
            Form::Zip => "zip",
            Form::ZipGzip => "zip.gz",
            Form::TarGz => "tar.gz",
        }
    }

    /// The strong `ETag` of `digest` (a tree's `sha256:<hex>`) in this form.
    pub(crate) fn etag(self, digest: &str) -> String {
        format!("\"{}.{}\"", digest.replacen(':', "-", 1), self.tag())
    }
}

/// A rendered answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The response body.
    pub(crate) body: Bytes,
    /// Its strong `ETag`, quoted.
    pub(crate) etag: String,
    /// Files in the bundle.
    pub(crate) files: usize,
    /// Their bytes together.
    pub(crate) size: usize,
}

impl Answer {
    /// What the cache counts for it: the body and a fixed allowance for the key, the tag and
    /// the map's bookkeeping.
    fn weight(&self) -> usize {
        self.body.len() + self.etag.len() + 256
    }
}

/// The key of a request: SHA-256 over each part, length-prefixed so that no two different
/// sequences of parts collide by concatenation.
pub(crate) fn key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// Whether `if_none_match` (an `If-None-Match` header value) names `etag`: `*`, or any of
/// its comma-separated tags compared weakly (a `W/` prefix ignored), as RFC 9110 asks for
/// this header.
pub(crate) fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag)
}

/// What `get` and `insert` did, for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Entries pushed out to make room.
    pub(crate) evicted: usize,
    /// Bytes held afterwards.
    pub(crate) bytes: usize,
}

/// Raw-request keys remembered per canonical key (each alias costs ~100 bytes).
const ALIASES: usize = 4096;

struct Inner {
    map: LruCache<[u8; 32], Arc<Answer>>,
    bytes: usize,
    /// Raw-request key → canonical key.
    aliases: LruCache<[u8; 32], [u8; 32]>,
}

/// Rendered answers by request key, at most `cap` bytes (`0`: off).
pub(crate) struct BundleCache {
    cap: usize,
    inner: Mutex<Inner>,
}

impl BundleCache {
    /// A cache of at most `cap` bytes; `0` keeps nothing.
    pub(crate) fn new(cap: usize) -> Self {
        BundleCache {
            cap,
            inner: Mutex::new(Inner {
                map: LruCache::unbounded(),
                bytes: 0,
                aliases: LruCache::new(std::num::NonZeroUsize::new(ALIASES).expect("not 0")),
            }),
        }
    }

    /// Whether the cache keeps anything.
    pub(crate) fn enabled(&self) -> bool {
        self.cap > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (each step is one call).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer for `key`, now the most recently used.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Arc<Answer>> {
        if !self.enabled() {
            return None;
        }
        self.lock().map.get(key).cloned()
    }

    /// The answer a raw request seen before led to, if it is still kept.
    pub(crate) fn get_raw(&self, raw: &[u8; 32]) -> Option<Arc<Answer>> {
        if !self.enabled() {
            return None;
        }
        let mut inner = self.lock();
        let key = *inner.aliases.get(raw)?;
        inner.map.get(&key).cloned()
    }

    /// Remember that the raw request `raw` is the canonical request `key`.
    pub(crate) fn alias(&self, raw: [u8; 32], key: [u8; 32]) {
        if self.enabled() {
            self.lock().aliases.put(raw, key);
        }
    }

    /// Keep `answer` under `key`, pushing out the least recently used answers until the
    /// total fits `cap`; an answer larger than `cap` alone is not kept.
    pub(crate) fn insert(&self, key: [u8; 32], answer: Arc<Answer>) -> Outcome {
        let weight = answer.weight();
        let mut inner = self.lock();
        if weight > self.cap {
            return Outcome {
                evicted: 0,
                bytes: inner.bytes,
            };
        }
        if let Some(old) = inner.map.put(key, answer) {
            inner.bytes -= old.weight();
        }
        inner.bytes += weight;
        let mut evicted = 0;
        while inner.bytes > self.cap {
            let Some((_, old)) = inner.map.pop_lru() else {
                break;
            };
            inner.bytes -= old.weight();
            evicted += 1;
        }
        Outcome {
            evicted,
            bytes: inner.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: usize, tag: &str) -> Arc<Answer> {
        Arc::new(Answer {
            body: Bytes::from(vec![0u8; n]),
            etag: format!("\"{tag}\""),
            files: 1,
            size: n,
        })
    }

    #[test]
    fn least_recently_used_goes_first_and_the_cap_holds() {
        // Room for two answers of 1,000 bytes (each weighs 1,000 + its tag + 256).
        let c = BundleCache::new(2 * (1000 + 3 + 256));
        let (a, b, d) = (key([&b"a"[..]]), key([&b"b"[..]]), key([&b"d"[..]]));
        assert_eq!(c.insert(a, answer(1000, "a")).evicted, 0);
        assert_eq!(c.insert(b, answer(1000, "b")).evicted, 0);
        assert!(c.get(&a).is_some(), "a is now the most recently used");
        let out = c.insert(d, answer(1000, "d"));
        assert_eq!(out.evicted, 1);
        assert!(out.bytes <= 2 * (1000 + 3 + 256));
        assert!(c.get(&b).is_none(), "b was the least recently used");
        assert!(c.get(&a).is_some() && c.get(&d).is_some());
        // Larger than the whole cache: not kept, nothing pushed out.
        let big = key([&b"big"[..]]);
        assert_eq!(c.insert(big, answer(10_000, "big")).evicted, 0);
        assert!(c.get(&big).is_none() && c.get(&a).is_some());
        // Replacing a key counts its bytes once.
        let before = c.insert(a, answer(1000, "a")).bytes;
        assert_eq!(before, 2 * (1000 + 3 + 256));
    }

    #[test]
    fn a_raw_request_finds_its_answer_through_its_alias() {
        let c = BundleCache::new(1 << 20);
        let (raw, canonical) = (key([&b"raw"[..]]), key([&b"canonical"[..]]));
        assert!(c.get_raw(&raw).is_none());
        c.insert(canonical, answer(10, "x"));
        c.alias(raw, canonical);
        assert_eq!(c.get_raw(&raw).unwrap().etag, "\"x\"");
        // The answer pushed out: the alias leads nowhere.
        let small = BundleCache::new(300);
        small.insert(canonical, answer(10, "x"));
        small.alias(raw, canonical);
        small.insert(key([&b"other"[..]]), answer(10, "y"));
        assert!(small.get_raw(&raw).is_none());
    }

    #[test]
    fn off_keeps_nothing() {
        let c = BundleCache::new(0);
        let k = key([&b"x"[..]]);
        c.insert(k, answer(10, "x"));
        assert!(c.get(&k).is_none());
    }

    #[test]
    fn keys_do_not_collide_by_concatenation_and_tags_match_weakly() {
        assert_ne!(key([&b"ab"[..], b"c"]), key([&b"a"[..], b"bc"]));
        let etag = Form::Zip.etag("sha256:abc");
        assert_eq!(etag, "\"sha256-abc.zip\"");
        assert_ne!(etag, Form::TarGz.etag("sha256:abc"));
        assert!(none_match(&etag, &etag));
        assert!(none_match(&format!("\"x\", W/{etag}"), &etag));
        assert!(none_match("*", &etag));
        assert!(!none_match("\"sha256-abc.tar.gz\"", &etag));
    }
}
