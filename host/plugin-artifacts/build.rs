//! Builds the plugin crates under `plugins/` for `wasm32-unknown-unknown`, turns each core
//! module into a component with `wit-component`, and generates `gen.rs` embedding them.
//!
//! The toolchain route (rustup target, or Debian's rustc-web with `-Zbuild-std`) is picked by
//! `cns-toolchain`, shared with `cnsctl plugin build`.
//! `CNS_SKIP_PLUGIN_BUILD=1` skips everything (fmt/clippy-only runs); the crate then embeds no
//! plugins and `cns_plugin_artifacts::require()` panics with the reason.

use cns_toolchain::{Route, TARGET};
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// (plugin name, crate name, shipped in the binary?)
const PLUGINS: &[(&str, &str, bool)] = &[
    ("cert-manager", "cns-plugin-cert-manager", true),
    ("gpu-operator", "cns-plugin-gpu-operator", true),
    ("helm", "cns-plugin-helm", true),
    ("network-operator", "cns-plugin-network-operator", true),
    ("nvsentinel", "cns-plugin-nvsentinel", true),
    ("skyhook", "cns-plugin-skyhook", true),
    ("script", "cns-plugin-script", true),
    ("argocd", "cns-plugin-argocd", true),
    ("flux", "cns-plugin-flux", true),
    ("hostile", "cns-plugin-hostile", false),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // The root manifest too: its [profile.plugin] and workspace dependencies shape the build.
    for p in ["plugins", "host/values", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(p).display());
    }
    for v in [
        "CNS_SKIP_PLUGIN_BUILD",
        "CNS_PLUGIN_CARGO",
        "CNS_PLUGIN_RUSTC",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    if env::var("CNS_SKIP_PLUGIN_BUILD").is_ok_and(|v| v == "1") {
        write_gen(
            &out_dir,
            &[],
            Some("CNS_SKIP_PLUGIN_BUILD=1 was set when cns-plugin-artifacts was built"),
            "skipped",
        );
        return;
    }

    let route = Route::from_env().unwrap_or_else(|| {
        fail(&format!(
            "no WebAssembly toolchain for the built-in plugins: {}\n\
             = help: or set CNS_SKIP_PLUGIN_BUILD=1 to build without plugins (lint-only runs)",
            cns_toolchain::NO_ROUTE_HELP
        ))
    });
    let target_dir = workspace.join("target").join("wasm-plugins");
    let mut cmd = route.cargo_build();
    cmd.current_dir(&workspace)
        .arg("--profile")
        .arg("plugin")
        .env("CARGO_TARGET_DIR", &target_dir);
    if env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| {
        f.split('\x1f')
            .any(|a| a == "-Dwarnings" || a == "warnings")
    }) {
        cmd.env("RUSTFLAGS", "-D warnings");
    }
    for (_, krate, _) in PLUGINS {
        cmd.arg("-p").arg(krate);
    }
    let route_name = route.name();
    let status = cmd.status().unwrap_or_else(|e| {
        fail(&format!(
            "could not run the plugin build ({route_name}): {e}"
        ))
    });
    if !status.success() {
        fail(&format!(
            "the plugin build ({route_name}) failed with {status}; its output is above"
        ));
    }

    let mut built = Vec::new();
    for (name, krate, shipped) in PLUGINS {
        let core = target_dir
            .join(TARGET)
            .join("plugin")
            .join(format!("{}.wasm", krate.replace('-', "_")));
        let module = fs::read(&core)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", core.display())));
        let component = cns_toolchain::componentize(&module)
            .unwrap_or_else(|e| fail(&format!("{name}: cannot make a component: {e}")));
        let path = out_dir.join(format!("{name}.wasm"));
        fs::write(&path, &component).unwrap();
        built.push((*name, path, *shipped));
    }
    precompile(&out_dir, &built);
    write_gen(&out_dir, &built, None, route_name);
}

/// Compile every component to native code with the runtime's engine configuration
/// (`cns-engine`) and write `<name>.cwasm` next to it, so the binary starts with compiled
/// plugins (no Cranelift run on first use). A component that cannot be precompiled gets an
/// empty file (as does a cross build, whose binary runs on another architecture): the
/// runtime then compiles it at load time as before.
fn precompile(out_dir: &Path, built: &[(&str, PathBuf, bool)]) {
    // The engine compiles for the machine the build script runs on: a binary for another
    // (`--target aarch64-unknown-linux-gnu` on x86_64) compiles its plugins when it loads them.
    if env::var("TARGET").ok() != env::var("HOST").ok() {
        return write_empty_cwasm(out_dir, built);
    }
    let engine = match cns_engine::engine() {
        Ok((e, _)) => e,
        Err(e) => {
            println!("cargo:warning=cannot create the wasmtime engine to precompile plugins: {e}");
            return write_empty_cwasm(out_dir, built);
        }
    };
    for (name, path, _) in built {
        let bytes = fs::read(path).unwrap();
        let cwasm = engine.precompile_component(&bytes).unwrap_or_else(|e| {
            println!("cargo:warning=cannot precompile plugin {name}: {e}");
            Vec::new()
        });
        fs::write(out_dir.join(format!("{name}.cwasm")), cwasm).unwrap();
    }
}

fn write_empty_cwasm(out_dir: &Path, built: &[(&str, PathBuf, bool)]) {
    for (name, _, _) in built {
        fs::write(out_dir.join(format!("{name}.cwasm")), b"").unwrap();
    }
}

fn fail(msg: &str) -> ! {
    // cargo shows a build script's stderr when it fails; keep the message first and plain.
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn write_gen(out_dir: &Path, built: &[(&str, PathBuf, bool)], skipped: Option<&str>, route: &str) {
    let mut s = String::new();
    let entry = |(name, path, _): &(&str, PathBuf, bool)| {
        use sha2::Digest;
        let sha256 = hex::encode(sha2::Sha256::digest(fs::read(path).unwrap()));
        format!(
            "    Artifact {{ name: {name:?}, bytes: include_bytes!({:?}), sha256: {sha256:?}, precompiled: &PageAligned(*include_bytes!({:?})).0 }},\n",
            path.display().to_string(),
            path.with_extension("cwasm").display().to_string()
        )
    };
    s.push_str("/// Plugins shipped in the `cnsctl` binary, sorted by name.\npub const BUILTIN: &[Artifact] = &[\n");
    for b in built.iter().filter(|b| b.2) {
        s.push_str(&entry(b));
    }
    s.push_str("];\n/// Plugins built only for the test suite (they misbehave on purpose).\npub const TEST_ONLY: &[Artifact] = &[\n");
    for b in built.iter().filter(|b| !b.2) {
        s.push_str(&entry(b));
    }
    s.push_str("];\n");
    let _ = writeln!(
        s,
        "/// Why no plugins were built, if they were not.\npub const SKIPPED: Option<&str> = {skipped:?};"
    );
    let _ = writeln!(
        s,
        "/// The toolchain route the build took.\npub const ROUTE: &str = {route:?};"
    );
    fs::write(out_dir.join("gen.rs"), s).unwrap();
}
