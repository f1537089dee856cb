//! Records how the library was built (compiler version, features) for `strata_build_info`.

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
}
