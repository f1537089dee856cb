//! The checked-in header must equal what cbindgen generates from the source, so the C contract
//! cannot drift from the code. Run with STRATA_UPDATE_HEADER=1 to regenerate it.

use std::path::PathBuf;

#[test]
fn header_matches_source() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = crate_dir.join("include/strata.h");
    if std::env::var_os("STRATA_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/strata.h differs from the Rust source; regenerate it with \
         STRATA_UPDATE_HEADER=1 cargo test -p strata-ffi --test header"
    );
}
