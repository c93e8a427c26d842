//! The one switch of the golden tests, shared by every suite that has expected files.

/// `UPDATE_GOLDEN=1` rewrites the expected files instead of comparing with them. Only `1` does:
/// any other value (`0`, empty) compares, so that a leftover or "off" value never hides a diff.
pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}
