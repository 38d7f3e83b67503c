//! Recipe resolution benchmark: every supported criteria combination, resolved in-process
//! after the data is loaded. Run with `cargo bench -p cns-recipe --bench resolve`.
//! Prints min and median per combination and over the whole matrix (repeated runs of the
//! same work; wall-clock, so compare figures from one run only).

use cns_recipe::{Store, resolve};
use std::time::{Duration, Instant};

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2])
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let t = Instant::now();
    let store = Store::embedded();
    let load = t.elapsed();
    let combos = resolve::supported(&store).expect("supported combinations");
    println!(
        "recipe data load (embedded): {load:?}; {} combinations; {iters} iterations each",
        combos.len()
    );
    println!("{:<48} {:>12} {:>12}", "criteria", "min", "median");
    let mut all = Vec::new();
    for c in &combos {
        let mut v = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t = Instant::now();
            let r = resolve(&store, c).expect("resolves");
            v.push(t.elapsed());
            std::hint::black_box(r);
        }
        let (min, med) = stats(v.clone());
        all.extend(v);
        println!("{:<48} {:>12.1?} {:>12.1?}", c.to_string(), min, med);
    }
    let (min, med) = stats(all);
    println!(
        "{:<48} {:>12.1?} {:>12.1?}",
        "ALL (per resolution)", min, med
    );
    let mut full = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        for c in &combos {
            std::hint::black_box(resolve(&store, c).expect("resolves"));
        }
        full.push(t.elapsed());
    }
    let (min, med) = stats(full);
    println!(
        "{:<48} {:>12.1?} {:>12.1?}",
        "whole matrix (24 resolutions)", min, med
    );
}
