//! Records how the library was built (compiler version, features) for `strata_build_info`, and
//! the build identity for `strata_build_id`: the engine version plus a hash of the C contract
//! (`include/strata.h`), which the Go package carries too (go/strata/buildid.go) and compares
//! at the first Open, so an archive and a Go package from different builds refuse to run.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "rustc (unknown version)".to_owned());
    let features: Vec<&str> = [
        ("poison", "CARGO_FEATURE_POISON"),
        ("failpoints", "CARGO_FEATURE_FAILPOINTS"),
    ]
    .into_iter()
    .filter(|(_, var)| std::env::var_os(var).is_some())
    .map(|(name, _)| name)
    .collect();
    let features = if features.is_empty() {
        "none".to_owned()
    } else {
        features.join(",")
    };
    println!("cargo:rustc-env=STRATA_BUILD_INFO={version}; features: {features}");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let header = std::fs::read("include/strata.h").expect("include/strata.h is readable");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    println!(
        "cargo:rustc-env=STRATA_BUILD_ID={version}+h{:016x}",
        fnv1a64(&header)
    );
    println!("cargo:rerun-if-changed=include/strata.h");
    println!("cargo:rerun-if-changed=build.rs");
}

/// 64-bit FNV-1a: Go's hash/fnv New64a computes the same, so both sides need no dependency.
/// The identity guards against mixing builds by mistake, not against forgery.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
