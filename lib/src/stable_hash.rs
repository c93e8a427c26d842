//! The one hash behind every derived name, MAC address, UUID and subnet. FNV-1a, because the
//! values land in hosts' network configuration and must never change between our releases,
//! which rules out std's hasher. `tests/stable_values.rs` pins what it gives.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a over `parts` joined by NUL bytes (no part can contain one, so joins are unambiguous).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    fnv1a_with(OFFSET, PRIME, parts)
}

/// The same with another offset and prime: a second, independent 64 bits for the same input.
pub(crate) fn fnv1a_with(offset: u64, prime: u64, parts: &[&[u8]]) -> u64 {
    let mut h = offset;
    for (i, part) in parts.iter().enumerate() {
        let sep: &[u8] = if i == 0 { &[] } else { &[0] };
        for &b in sep.iter().chain(part.iter()) {
            h = (h ^ u64::from(b)).wrapping_mul(prime);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_fnv1a_64() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a(&[b"a", b"b"]), fnv1a(&[b"a\0b"]));
    }
}
