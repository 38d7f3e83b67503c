//! Builds the plugin crates under `plugins/` for `wasm32-unknown-unknown`, turns each core
//! module into a component with `wit-component`, and generates `gen.rs` embedding them.
//!
//! Toolchain route, picked here and nowhere else:
//! (a) the active rustc has the wasm32-unknown-unknown std (e.g. `rustup target add`): plain build;
//! (b) Debian's rustc-web + rust-web-src (+ lld): `-Zbuild-std` with `RUSTC_BOOTSTRAP=1`;
//! (c) neither: fail with both remedies.
//! `CNS_SKIP_PLUGIN_BUILD=1` skips everything (fmt/clippy-only runs); the crate then embeds no
//! plugins and `cns_plugin_artifacts::require()` panics with the reason.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

const TARGET: &str = "wasm32-unknown-unknown";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";

enum Route {
    Native { cargo: PathBuf },
    Debian,
}

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for p in ["plugins", "wit", "Cargo.lock"] {
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

    let route = pick_route();
    let target_dir = workspace.join("target").join("wasm-plugins");
    let mut cmd = match &route {
        Route::Native { cargo } => Command::new(cargo),
        Route::Debian => {
            let mut c =
                Command::new(env::var("CNS_PLUGIN_CARGO").unwrap_or_else(|_| DEBIAN_CARGO.into()));
            let path = format!("/usr/bin:{}", env::var("PATH").unwrap_or_default());
            c.env("PATH", path)
                .env(
                    "RUSTC",
                    env::var("CNS_PLUGIN_RUSTC").unwrap_or_else(|_| DEBIAN_RUSTC.into()),
                )
                .env("RUSTC_BOOTSTRAP", "1")
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("RUSTUP_HOME");
            c
        }
    };
    cmd.current_dir(&workspace)
        .arg("build")
        .arg("--profile")
        .arg("plugin")
        .arg("--target")
        .arg(TARGET)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET");
    if matches!(route, Route::Debian) {
        cmd.arg("-Zbuild-std=std,panic_abort");
    }
    if env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| {
        f.split('\x1f')
            .any(|a| a == "-Dwarnings" || a == "warnings")
    }) {
        cmd.env("RUSTFLAGS", "-D warnings");
    }
    for (_, krate, _) in PLUGINS {
        cmd.arg("-p").arg(krate);
    }
    let route_name = match route {
        Route::Native { .. } => "rustup target wasm32-unknown-unknown",
        Route::Debian => "Debian rustc-web with -Zbuild-std",
    };
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
        let mut enc = wit_component::ComponentEncoder::default();
        enc.validate(true)
            .module(&module)
            .unwrap_or_else(|e| fail(&format!("{name}: not a usable core module: {e:#}")));
        let component = enc
            .encode()
            .unwrap_or_else(|e| fail(&format!("{name}: cannot encode the component: {e:#}")));
        let path = out_dir.join(format!("{name}.wasm"));
        fs::write(&path, component).unwrap();
        built.push((*name, path, *shipped));
    }
    write_gen(&out_dir, &built, None, route_name);
}

fn pick_route() -> Route {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let has_std = |dir: &Path| {
        fs::read_dir(dir).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        })
    };
    if let Some(dir) = libdir
        && has_std(&dir)
    {
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        return Route::Native {
            cargo: cargo.into(),
        };
    }
    let debian_rustc = env::var("CNS_PLUGIN_RUSTC").unwrap_or_else(|_| DEBIAN_RUSTC.into());
    if Path::new(&debian_rustc).exists() && Path::new(DEBIAN_STD_SRC).exists() {
        return Route::Debian;
    }
    fail(
        "no WebAssembly toolchain for the built-in plugins: the active rustc has no wasm32-unknown-unknown std\n\
         = help: with rustup: `rustup target add wasm32-unknown-unknown`\n\
         = help: on Debian: `apt-get install rustc-web cargo-web rust-web-src lld-22` (used with -Zbuild-std)\n\
         = help: or set CNS_SKIP_PLUGIN_BUILD=1 to build without plugins (lint-only runs)",
    )
}

fn fail(msg: &str) -> ! {
    // cargo shows a build script's stderr when it fails; keep the message first and plain.
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn write_gen(out_dir: &Path, built: &[(&str, PathBuf, bool)], skipped: Option<&str>, route: &str) {
    let mut s = String::new();
    let entry = |(name, path, _): &(&str, PathBuf, bool)| {
        format!(
            "    Artifact {{ name: {name:?}, bytes: include_bytes!({:?}) }},\n",
            path.display().to_string()
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
