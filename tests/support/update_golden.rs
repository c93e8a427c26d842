//! The one switch of the golden tests, shared by every suite that has expected files.

/// `UPDATE_GOLDEN=1` rewrites the expected files instead of comparing with them. Only `1` does:
/// any other value (`0`, empty) compares, so that a leftover or "off" value never hides a diff.
pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `got` with the file `expected` (a missing file reads as empty), or, with
/// UPDATE_GOLDEN=1, writes `got` there instead. `what` names the case in a failure.
#[allow(dead_code)] // not every suite compares whole files
pub fn compare_or_update(expected: &std::path::Path, got: &str, what: &str) {
    if update_golden() {
        if let Err(e) = std::fs::write(expected, got) {
            panic!("{}: {e}", expected.display());
        }
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_default();
    similar_asserts::assert_eq!(want, got, "{what}");
}
