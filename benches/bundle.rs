//! End-to-end bundle benchmark, in one process, side by side:
//! - the example recipe rendered with each deployer through the sandboxed WASM plugins
//!   (warm: components compiled once, instantiated per call as in `cnsctl`) and through the
//!   very same plugin crates linked natively: the WASM/native ratio;
//! - the whole matrix (every supported recipe × every deployer) in one process;
//! - loading the built-in plugins: compiling every component (no cache), from the on-disk
//!   compiled-component cache, and from the code precompiled into the binary at build time.
//!
//! Run: `cargo bench --bench bundle` (release profile). Prints min and median per figure.

use cns_bundle::{BundleOptions, Placement, generate};
use cns_runtime::{Cache, Catalog, Runtime};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEPLOYERS: &[&str] = &["script", "argocd", "flux"];

mod native;
use native::Native;

// ---- measurement ----

struct Stats {
    min: Duration,
    median: Duration,
}

fn measure(iters: usize, mut f: impl FnMut()) -> Stats {
    f(); // warm-up
    let mut v: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    Stats {
        min: v[0],
        median: v[v.len() / 2],
    }
}

fn opts(deployer: &str, parallel: bool) -> BundleOptions {
    BundleOptions {
        deployer: deployer.into(),
        system: Placement::default(),
        accelerated: Placement::default(),
        sets: vec![],
        deployer_options: Default::default(),
        parallel,
        clusters: Vec::new(),
        registry_mirror: None,
        upgrade_from: None,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let store = cns_recipe::Store::embedded();
    let example = cns_recipe::RecipeResult::from_yaml(
        "example",
        store
            .text("examples/eks-h100-ubuntu-training.yaml", "bench")
            .unwrap(),
    )
    .unwrap();
    let sink: cns_runtime::LogSink = Arc::new(|_: &str, _, _: &str| {});

    // Loading the built-in plugins, in parallel as the catalog does: compiling, from the
    // on-disk cache, and from the code embedded at build time.
    let load_all = |rt: &Arc<Runtime>, embedded: bool| {
        std::thread::scope(|s| {
            let hs: Vec<_> = cns_plugin_artifacts::require()
                .iter()
                .map(|a| {
                    let code = if embedded { a.precompiled } else { &[] };
                    s.spawn(move || {
                        let p = rt
                            .load_with_code(
                                a.name,
                                cns_runtime::Origin::Builtin,
                                a.bytes,
                                Some(a.sha256),
                                code,
                            )
                            .unwrap();
                        assert_eq!(p.precompiled, embedded, "{}", a.name);
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        })
    };
    // `BENCH_PROFILE=<deployer>[:native]` loops one bundle for a profiler (`perf record`)
    // and prints nothing else.
    if let Ok(p) = std::env::var("BENCH_PROFILE") {
        let rt = Arc::new(Runtime::new(Default::default(), None, sink.clone()).unwrap());
        let catalog = Catalog::builtin(&rt, cns_plugin_artifacts::require()).unwrap();
        let (d, native) = p
            .split_once(':')
            .map_or((p.as_str(), false), |(d, n)| (d, n == "native"));
        // 40 batches of 50: the mean of all, and the best batch (the least disturbed by a
        // noisy machine, for comparing two builds run one after the other).
        let backend: &dyn cns_bundle::Backend = if native { &Native } else { &catalog };
        let t = Instant::now();
        let mut best = Duration::MAX;
        for _ in 0..40 {
            let b = Instant::now();
            for _ in 0..50 {
                generate(&example, &store, backend, &opts(d, false)).unwrap();
            }
            best = best.min(b.elapsed());
        }
        println!(
            "{p}: {:.3} ms a bundle, best batch of 50 {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3 / 2000.0,
            best.as_secs_f64() * 1e3 / 50.0
        );
        return;
    }
    let cache_dir = tempfile::tempdir().unwrap();
    let cold = measure(5, || {
        let rt = Arc::new(Runtime::new(Default::default(), None, sink.clone()).unwrap());
        load_all(&rt, false);
    });
    let rt = Arc::new(
        Runtime::new(
            Default::default(),
            Some(Cache::new(cache_dir.path())),
            sink.clone(),
        )
        .unwrap(),
    );
    load_all(&rt, false);
    let warm = measure(20, || load_all(&rt, false));
    let embedded = measure(20, || {
        let rt = Arc::new(Runtime::new(Default::default(), None, sink.clone()).unwrap());
        load_all(&rt, true);
    });
    let catalog = Catalog::builtin(&rt, cns_plugin_artifacts::require()).unwrap();
    println!("load {} built-in plugins", catalog.plugins().len());
    println!(
        "  compile every component: min {} median {}",
        ms(cold.min),
        ms(cold.median)
    );
    println!(
        "  from the compiled-component cache: min {} median {}",
        ms(warm.min),
        ms(warm.median)
    );
    println!(
        "  precompiled at build time (embedded): min {} median {}",
        ms(embedded.min),
        ms(embedded.median)
    );

    println!(
        "\nexample recipe (eks/h100/ubuntu/training, {} components), in process:",
        example.component_refs.len()
    );
    println!(
        "  {:<8} {:>22} {:>22} {:>22} {:>14}",
        "deployer", "wasm parallel", "wasm serial", "native serial", "wasm/native"
    );
    for d in DEPLOYERS {
        let wasm_par = measure(50, || {
            generate(&example, &store, &catalog, &opts(d, true)).unwrap();
        });
        let wasm_ser = measure(50, || {
            generate(&example, &store, &catalog, &opts(d, false)).unwrap();
        });
        let native = measure(50, || {
            generate(&example, &store, &Native, &opts(d, false)).unwrap();
        });
        // Same bytes either way.
        assert_eq!(
            generate(&example, &store, &catalog, &opts(d, false)).unwrap(),
            generate(&example, &store, &Native, &opts(d, false)).unwrap()
        );
        println!(
            "  {:<8} {:>22} {:>22} {:>22} {:>7.2}x/{:.2}x",
            d,
            format!("{} / {}", ms(wasm_par.min), ms(wasm_par.median)),
            format!("{} / {}", ms(wasm_ser.min), ms(wasm_ser.median)),
            format!("{} / {}", ms(native.min), ms(native.median)),
            wasm_ser.min.as_secs_f64() / native.min.as_secs_f64(),
            wasm_ser.median.as_secs_f64() / native.median.as_secs_f64(),
        );
    }

    // The sandbox's fixed cost: each plugin of a bundle (its bundlers and the deployer)
    // instantiated and called once with a call that does almost nothing (`info`), then torn
    // down; against the native bundle it is the floor of the WASM/native ratio.
    let mut used: Vec<&cns_runtime::Plugin> = example
        .component_refs
        .iter()
        .map(|c| catalog.bundler_for(&c.name).unwrap().as_ref())
        .collect();
    used.push(catalog.deployer("flux").unwrap());
    let floor = measure(200, || {
        for p in &used {
            p.info().unwrap();
        }
    });
    println!(
        "\nsandbox floor: {} plugins instantiated, called with `info` and dropped: min {} median {}",
        used.len(),
        ms(floor.min),
        ms(floor.median)
    );

    let combos = cns_recipe::resolve::supported(&store).unwrap();
    let recipes: Vec<_> = combos
        .iter()
        .map(|c| cns_recipe::resolve(&store, c).unwrap())
        .collect();
    let n = recipes.len() * DEPLOYERS.len();
    let matrix = measure(5, || {
        for r in &recipes {
            for d in DEPLOYERS {
                generate(r, &store, &catalog, &opts(d, true)).unwrap();
            }
        }
    });
    // The same bundles spread over one worker per core, each bundle serial inside: what
    // a batch (or the server) does with many bundles at once.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs: Vec<(&cns_recipe::RecipeResult, &str)> = recipes
        .iter()
        .flat_map(|r| DEPLOYERS.iter().map(move |d| (r, *d)))
        .collect();
    let spread = |backend: &(dyn cns_bundle::Backend + Sync)| {
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((r, d)) = jobs.get(i) else { break };
                        generate(r, &store, backend, &opts(d, false)).unwrap();
                    }
                });
            }
        });
    };
    let matrix_spread = measure(5, || spread(&catalog));
    let matrix_spread_native = measure(5, || spread(&Native));
    let matrix_native = measure(5, || {
        for r in &recipes {
            for d in DEPLOYERS {
                generate(r, &store, &Native, &opts(d, false)).unwrap();
            }
        }
    });
    println!(
        "\nmatrix: {} recipes x {} deployers = {n} bundles in one process",
        recipes.len(),
        DEPLOYERS.len()
    );
    println!(
        "  wasm (parallel): min {} median {}",
        ms(matrix.min),
        ms(matrix.median)
    );
    println!(
        "  native (serial): min {} median {}",
        ms(matrix_native.min),
        ms(matrix_native.median)
    );
    println!(
        "  wasm, bundles over {workers} workers: min {} median {}",
        ms(matrix_spread.min),
        ms(matrix_spread.median)
    );
    println!(
        "  native, bundles over {workers} workers: min {} median {}",
        ms(matrix_spread_native.min),
        ms(matrix_spread_native.median)
    );
}
