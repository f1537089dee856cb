//! Every exported function runs its whole body inside the panic guard, named after itself.
//!
//! A panic that unwinds out of an `extern "C"` function aborts the Go process; `export::guard`
//! turns it into `STRATA_ERR_INTERNAL`. A macro that writes the export around its body would
//! make the guard unavoidable, but cbindgen on stable Rust does not expand macros, so such
//! exports would vanish from strata.h. This test makes the guard unavoidable instead: it reads
//! the crate's source and fails for any `#[no_mangle]` function whose body is not exactly one
//! `guard("<its name>", ...)` or `guard_or("<its name>", ...)` call.

use std::path::PathBuf;

/// The exported functions in `source`: (name, body), the body being the text between the
/// signature's opening brace and its matching closing brace.
fn exports(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        offset += line.len();
        // Attribute lines only: a comment that mentions the attribute is not an export.
        if line.trim() != "#[no_mangle]" {
            continue;
        }
        let rest = &source[offset..];
        let after = &rest[rest.find("fn ").expect("#[no_mangle] precedes a fn") + 3..];
        let name_end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap();
        let open = after.find('{').expect("a function body");
        let mut depth = 0usize;
        let mut close = None;
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.expect("a closed function body");
        let body = after[open + 1..close].trim().to_owned();
        found.push((after[..name_end].to_owned(), body));
    }
    found
}

/// Whether `body` is one guard call named `name` (the call's closing parenthesis ends it).
fn guarded(name: &str, body: &str) -> bool {
    [
        format!("guard(\"{name}\","),
        format!("guard_or(\"{name}\","),
    ]
    .iter()
    .any(|start| body.starts_with(start.as_str()) && body.ends_with(')'))
        && top_level_statements(body) == 1
}

/// How many statements `body` has at brace depth 0 (a lone expression counts as one).
fn top_level_statements(body: &str) -> usize {
    let mut depth = 0i32;
    let mut statements = 1;
    for c in body.chars() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ';' if depth == 0 => statements += 1,
            _ => {}
        }
    }
    if body.trim_end().ends_with(';') {
        statements -= 1;
    }
    statements
}

#[test]
fn every_export_runs_inside_its_guard() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = Vec::new();
    let mut unguarded = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (name, body) in exports(&source) {
            if !guarded(&name, &body) {
                unguarded.push(format!("{} in {}", name, path.display()));
            }
            checked.push(name);
        }
    }
    assert!(
        checked.len() >= 30,
        "found only {} exports ({checked:?}): the scan is broken",
        checked.len()
    );
    assert!(
        unguarded.is_empty(),
        "exports whose body is not one guard(\"<name>\", ..) or guard_or(\"<name>\", ..) call: \
         {unguarded:?}"
    );
}

#[test]
fn the_scan_sees_an_unguarded_export() {
    let source = r#"
        #[no_mangle]
        pub extern "C" fn strata_good(x: u64) -> i32 {
            guard("strata_good", || { let y = x; submit(y) })
        }
        #[no_mangle]
        pub extern "C" fn strata_bare(x: u64) -> i32 {
            submit(x)
        }
        #[no_mangle]
        pub extern "C" fn strata_misnamed(x: u64) -> i32 {
            guard("strata_good", || submit(x))
        }
        #[no_mangle]
        pub extern "C" fn strata_work_first(x: u64) -> i32 {
            let y = risky(x);
            guard("strata_work_first", || submit(y))
        }
    "#;
    let verdicts: Vec<(String, bool)> = exports(source)
        .into_iter()
        .map(|(name, body)| {
            let ok = guarded(&name, &body);
            (name, ok)
        })
        .collect();
    let want = [
        ("strata_good", true),
        ("strata_bare", false),
        ("strata_misnamed", false),
        ("strata_work_first", false),
    ];
    let want: Vec<(String, bool)> = want.iter().map(|(n, ok)| (n.to_string(), *ok)).collect();
    assert_eq!(verdicts, want);
}
