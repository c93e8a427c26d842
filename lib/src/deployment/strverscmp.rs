//! glibc's `strverscmp`, which libostree uses to order boot entries by their `version` key.
//!
//! A plain numeric or lexical sort would diverge from `ostree admin status` once there are ten or
//! more entries ("10" < "9" lexically) or when versions carry leading zeros, so this is a faithful
//! port of glibc's state machine (string/strverscmp.c) over bytes, with end-of-slice acting as NUL.

use std::cmp::Ordering;

// States, each a row offset into the tables below: normal, integral part, fractional part,
// leading zeros only.
const S_N: usize = 0;
const S_I: usize = 3;
const S_F: usize = 6;
const S_Z: usize = 9;

/// `result_type` entries that are not a fixed answer.
const CMP: i8 = 2;
const LEN: i8 = 3;

/// Next state, indexed by `state + class(c)` where class is 0 for non-digits, 1 for 1-9, 2 for 0.
const NEXT_STATE: [usize; 12] = [
    S_N, S_I, S_Z, // S_N
    S_N, S_I, S_I, // S_I
    S_N, S_F, S_F, // S_F
    S_N, S_F, S_Z, // S_Z
];

/// How to decide once the strings differ, indexed by `(state + class(c1)) * 3 + class(c2)`.
const RESULT_TYPE: [i8; 36] = [
    CMP, CMP, CMP, CMP, LEN, CMP, CMP, CMP, CMP, // S_N
    CMP, -1, -1, 1, LEN, LEN, 1, LEN, LEN, // S_I
    CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP, // S_F
    CMP, 1, 1, -1, CMP, CMP, -1, CMP, CMP, // S_Z
];

fn class(c: u8) -> usize {
    usize::from(c == b'0') + usize::from(c.is_ascii_digit())
}

/// Compares like glibc `strverscmp(a, b)`; a NUL byte ends a string early, as in C.
pub fn strverscmp(a: &[u8], b: &[u8]) -> Ordering {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    // i is the index of the byte after the current c1/c2, mirroring the C post-increments.
    let mut i = 1;
    let mut c1 = at(a, 0);
    let mut c2 = at(b, 0);
    let mut state = S_N + class(c1);
    while c1 == c2 {
        if c1 == 0 {
            return Ordering::Equal;
        }
        state = NEXT_STATE.get(state).copied().unwrap_or(S_N);
        c1 = at(a, i);
        c2 = at(b, i);
        i += 1;
        state += class(c1);
    }
    let diff = i32::from(c1) - i32::from(c2);
    let kind = RESULT_TYPE
        .get(state * 3 + class(c2))
        .copied()
        .unwrap_or(CMP);
    match kind {
        CMP => diff.cmp(&0),
        LEN => {
            // The longer run of digits is the bigger number; equal length falls back to diff.
            let mut j = i;
            while at(a, j).is_ascii_digit() {
                if !at(b, j).is_ascii_digit() {
                    return Ordering::Greater;
                }
                j += 1;
            }
            if at(b, j).is_ascii_digit() {
                Ordering::Less
            } else {
                diff.cmp(&0)
            }
        }
        fixed => fixed.cmp(&0),
    }
}

#[cfg(test)]
mod tests {
    use super::strverscmp;
    use std::cmp::Ordering::{Equal, Greater, Less};

    fn cmp(a: &str, b: &str) -> std::cmp::Ordering {
        strverscmp(a.as_bytes(), b.as_bytes())
    }

    #[test]
    fn man_page_order() {
        // strverscmp(3): "000, 00, 01, 010, 09, 0, 1, 9, 10".
        let order = ["000", "00", "01", "010", "09", "0", "1", "9", "10"];
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn boot_entry_versions() {
        // BLS `version` values are n_deployments - index: numeric order from 10 on is what matters.
        assert_eq!(cmp("10", "9"), Greater);
        assert_eq!(cmp("9", "10"), Less);
        assert_eq!(cmp("11", "2"), Greater);
        assert_eq!(cmp("100", "99"), Greater);
        assert_eq!(cmp("12", "12"), Equal);
        assert_eq!(cmp("", ""), Equal);
        assert_eq!(cmp("", "1"), Less);
        assert_eq!(cmp("1", ""), Greater);
    }

    #[test]
    fn mixed_strings() {
        assert_eq!(cmp("jan10", "jan9"), Greater);
        assert_eq!(cmp("jan1", "jan10"), Less);
        assert_eq!(cmp("a", "b"), Less);
        assert_eq!(cmp("1.10", "1.9"), Greater);
        assert_eq!(cmp("1.01", "1.1"), Less);
        assert_eq!(cmp("1.001", "1.01"), Less);
        assert_eq!(cmp("abc", "abd"), Less);
        assert_eq!(cmp("item#99", "item#100"), Less);
        assert_eq!(cmp("1a", "1b"), Less);
        assert_eq!(cmp("12a", "12"), Greater);
        // An embedded NUL ends the C string.
        assert_eq!(strverscmp(b"5\0zzz", b"5"), Equal);
    }

    /// Every non-empty string over a digit-heavy alphabet, in the order glibc 2.36's real
    /// `strverscmp` sorts them (generated once with Python ctypes on Debian 12, since FFI is
    /// forbidden here). Any disagreement with glibc on these shows up as a misplaced pair.
    const GLIBC_ORDER: &str = ". .. .00 .01 .09 .0 .0a .1 .9 .10 .a .a0 0000 0001 0009 000 000a 001 \
        0010 009 00 00. 00a 00a0 01 01. 010 0100 0101 0109 010a 011 0110 019 01a 01a0 09 09. 090 \
        0900 0901 0909 090a 091 0910 099 09a 09a0 0 0. 0a 0a. 0a00 0a01 0a09 0a0 0a0a 0a1 0a9 \
        0a10 0aa 0aa0 1 1. 1a 1a0 9 9. 9a 9a0 10 10. 10a 10a0 11 19 90 90a 91 99 100 100a 101 109 \
        110 900 901 909 910 1000 1001 1009 1010 a a. a000 a001 a009 a00 a00a a01 a010 a09 a0 a0. \
        a0a a0a0 a1 a9 a10 aa aa0";

    #[test]
    fn agrees_with_glibc_order() {
        let words: Vec<&str> = GLIBC_ORDER.split_whitespace().collect();
        assert_eq!(words.len(), 112);
        for (i, a) in words.iter().enumerate() {
            for (j, b) in words.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
    }
}
