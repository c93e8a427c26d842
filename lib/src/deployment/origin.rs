//! The pin flag in a deployment's `.origin` file.
//!
//! The file is a GKeyFile; libostree reads the flag with `g_key_file_get_boolean(origin,
//! "libostree-transient", "pinned")` and treats any failure as "not pinned". Only the subset of
//! GKeyFile syntax that can affect that one key is handled.

const GROUP: &str = "libostree-transient";

/// Whether the origin file contents mark the deployment as pinned.
pub(crate) fn is_pinned(contents: &str) -> bool {
    let mut in_group = false;
    let mut pinned = false;
    for line in contents.lines() {
        // GKeyFile skips leading whitespace and ignores blank and '#' comment lines.
        let line = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            // Group lines may carry trailing blanks after ']'; groups of the same name merge.
            in_group = rest
                .trim_end_matches([' ', '\t'])
                .strip_suffix(']')
                .is_some_and(|name| name == GROUP);
            continue;
        }
        if !in_group {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim_end_matches(|c: char| c.is_ascii_whitespace()) == "pinned"
        {
            // Later assignments win, and g_key_file_parse_value_as_boolean ignores trailing
            // whitespace and accepts exactly "true" or "1".
            let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
            pinned = value == "true" || value == "1";
        }
    }
    pinned
}

#[cfg(test)]
mod tests {
    use super::is_pinned;

    #[test]
    fn written_by_ostree_admin_pin() {
        assert!(is_pinned(
            "[origin]\nrefspec=g1\n\n[libostree-transient]\npinned=true\n"
        ));
        assert!(!is_pinned("[origin]\nrefspec=g1\n"));
        assert!(!is_pinned(""));
    }

    #[test]
    fn keyfile_details() {
        assert!(is_pinned("[libostree-transient]\r\n  pinned = 1 \r\n"));
        assert!(!is_pinned("[libostree-transient]\npinned=false\n"));
        assert!(!is_pinned("[libostree-transient]\npinned=yes\n"));
        assert!(!is_pinned("[libostree-transient]\npinned=True\n"));
        assert!(!is_pinned("[libostree-transient]\n#pinned=true\n"));
        assert!(!is_pinned("[origin]\npinned=true\n"));
        assert!(!is_pinned(
            "[libostree-transient]\npinned=true\npinned=false\n"
        ));
        assert!(is_pinned(
            "[libostree-transient]\npinned=false\n[origin]\nx=1\n[libostree-transient]\npinned=true\n"
        ));
        assert!(!is_pinned("[libostree-transient]\npinned[de]=true\n"));
        assert!(is_pinned("[libostree-transient]  \npinned=true"));
    }
}
