//! Names of the numbered files in a database directory: `NNNNNN.wal` segments and `NNNNNN.sst`
//! tables. One number sequence serves both, so a number names exactly one file.

/// The name of file `number` with extension `ext` (zero-padded to six digits).
pub fn numbered(number: u64, ext: &str) -> String {
    format!("{number:06}.{ext}")
}

/// The number in `name` if it is `<digits>.<ext>`.
pub fn parse_numbered(name: &str, ext: &str) -> Option<u64> {
    let digits = name.strip_suffix(ext)?.strip_suffix('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(numbered(12, "sst"), "000012.sst");
        assert_eq!(numbered(1_234_567, "wal"), "1234567.wal");
        assert_eq!(parse_numbered("000012.sst", "sst"), Some(12));
        assert_eq!(parse_numbered("000012.sst", "wal"), None);
        assert_eq!(parse_numbered(".sst", "sst"), None);
        assert_eq!(parse_numbered("x1.sst", "sst"), None);
        assert_eq!(parse_numbered("000012sst", "sst"), None);
    }
}
