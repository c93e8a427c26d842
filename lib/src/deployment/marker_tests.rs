//! The marker reader against bytes that GLib itself serialised.
//!
//! The fixtures are `GLib.Variant('a{sv}', {...}).get_data_as_bytes()` from Debian 12's
//! python3-gi 3.42 (GLib 2.74), shaped like ostree-prepare-root's markers. Regenerate with
//! `/usr/bin/python3 lib/src/deployment/marker_fixtures.py` (it prints `NAME HEX` lines).

use super::super::gvariant::tests::unhex;
use super::*;

const PLAIN: &str = concat!(
    "6261636b696e672d726f6f742d6465766963652d696e6f64650000000000000001fd000000000000",
    "87d612000000000000287474291a0000726f6f742e7472616e7369656e7400000000620f00000000",
    "726f6f742e7472616e7369656e742d726f000000000000000000621200000000737973726f6f742d",
    "726f0000000000000100620b364c6c84",
);

const COMPOSEFS: &str = concat!(
    "6261636b696e672d726f6f742d6465766963652d696e6f6465000000000000000300000000fd0000",
    "120000000000010000287474291a0000726f6f742e7472616e7369656e7400000000620f00000000",
    "726f6f742e7472616e7369656e742d726f000000000000000000621200000000636f6d706f736566",
    "73000000000000000100620a00000000636f6d706f736566732e7369676e65640000000000000000",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "78787878787878787878787878787878787878787878787878787878787878787878787878787878",
    "7878787878787878787878787878787878787878000073110000000000000000737973726f6f742d",
    "726f0000000000000100620b36004c006c008400d101ec01",
);

const NOKEY: &str = concat!(
    "737973726f6f742d726f0000000000000100620b00000000636f6d706f7365667300000000000000",
    "0100620a142c",
);

const WRONGTYPE: &str = concat!(
    "6261636b696e672d726f6f742d6465766963652d696e6f6465000000000000000100000002000000",
    "00287575291a2e",
);

const DUPLICATE2: &str = concat!(
    "6261636b696e672d726f6f742d6465766963652d696e6f6465000000000000000100000000000000",
    "020000000000000000287474291a0000737973726f6f742d726f0000000000000100620b00000000",
    "6261636b696e672d726f6f742d6465766963652d696e6f6465000000000000000300000000000000",
    "040000000000000000287474291a364c86",
);

/// The marker Debian 13's ostree 2025.2 `ostree-prepare-root` wrote in the T3 VM (scenario 18
/// prints it), for the deployment directory 65024:10802 (/dev/vda, 254:0).
const DEBIAN13_PREPARE_ROOT: &str = concat!(
    "6261636b696e672d726f6f742d6465766963652d696e6f64650000000000000000fe000000000000",
    "322a00000000000000287474291a0000726f6f742e7472616e7369656e7400000000620f00000000",
    "737973726f6f742d726f0000000000000100620b364c64",
);

/// Where the `(tt)` sits in [`PLAIN`]: after "backing-root-device-inode\0" padded to 8.
const PLAIN_TT: std::ops::Range<usize> = 32..48;

/// GLib's [`PLAIN`] marker with its `(tt)` set to `d`: a fixed-size value, so the framing GLib
/// wrote stays right.
pub(crate) fn marker_for(d: DevIno) -> Vec<u8> {
    let mut bytes = unhex(PLAIN);
    bytes[PLAIN_TT.start..PLAIN_TT.start + 8].copy_from_slice(&d.dev.to_le_bytes());
    bytes[PLAIN_TT.start + 8..PLAIN_TT.end].copy_from_slice(&d.ino.to_le_bytes());
    assert_eq!(backing_dev_ino(&bytes), Some(d));
    bytes
}

fn keys(bytes: &[u8]) -> Vec<(String, String)> {
    dict_entries(bytes)
        .unwrap()
        .iter()
        .map(|e| {
            let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            (s(e.key), s(e.ty))
        })
        .collect()
}

#[test]
fn ostree_prepare_root_without_composefs() {
    let b = unhex(PLAIN);
    assert_eq!(
        backing_dev_ino(&b),
        Some(DevIno {
            dev: 64769,
            ino: 1_234_567
        })
    );
    let pairs = [
        ("backing-root-device-inode", "(tt)"),
        ("root.transient", "b"),
        ("root.transient-ro", "b"),
        ("sysroot-ro", "b"),
    ];
    let want: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    assert_eq!(keys(&b), want);
    assert_eq!(&b[PLAIN_TT], &unhex(PLAIN)[PLAIN_TT]);
}

#[test]
fn the_marker_of_debian_13s_ostree_prepare_root() {
    let b = unhex(DEBIAN13_PREPARE_ROOT);
    assert_eq!(
        backing_dev_ino(&b),
        Some(DevIno {
            dev: 65024,
            ino: 10802
        })
    );
    let names: Vec<&[u8]> = dict_entries(&b).unwrap().iter().map(|e| e.key).collect();
    let want: [&[u8]; 3] = [BACKING_KEY, b"root.transient", b"sysroot-ro"];
    assert_eq!(names, want);
}

#[test]
fn composefs_marker_with_wide_offsets() {
    let b = unhex(COMPOSEFS);
    assert!(b.len() > 0xff, "2-byte framing offsets");
    assert_eq!(
        backing_dev_ino(&b),
        Some(DevIno {
            dev: 0xfd00_0000_0003,
            ino: 0x1_0000_0000_0012
        })
    );
    let entries = dict_entries(&b).unwrap();
    assert_eq!(entries.len(), 6);
    let signed = entries
        .iter()
        .find(|e| e.key == b"composefs.signed")
        .unwrap();
    assert_eq!(signed.ty, b"s");
    assert_eq!(signed.value, format!("{}\0", "x".repeat(300)).as_bytes());
    assert_eq!(entries[5].key, b"sysroot-ro");
    assert_eq!(entries[5].value, [1]);
}

#[test]
fn markers_without_a_usable_key() {
    // ostree 2022 and the T3a stand-in: an empty file is the empty dictionary.
    assert_eq!(dict_entries(&[]), Some(Vec::new()));
    assert_eq!(backing_dev_ino(&[]), None);
    assert_eq!(backing_dev_ino(&unhex(NOKEY)), None);
    assert_eq!(keys(&unhex(NOKEY)).len(), 2);
    // g_variant_dict_lookup (.., "(tt)", ..) fails on another type.
    assert_eq!(keys(&unhex(WRONGTYPE))[0].1, "(uu)");
    assert_eq!(backing_dev_ino(&unhex(WRONGTYPE)), None);
    // GVariantDict keeps the last of repeated keys (GLib's own lookup_value gave (3, 4)).
    assert_eq!(
        backing_dev_ino(&unhex(DUPLICATE2)),
        Some(DevIno { dev: 3, ino: 4 })
    );
}

#[test]
fn malformed_markers_never_panic() {
    for fixture in [
        PLAIN,
        COMPOSEFS,
        NOKEY,
        WRONGTYPE,
        DUPLICATE2,
        DEBIAN13_PREPARE_ROOT,
    ] {
        let bytes = unhex(fixture);
        // Cutting off the framing offsets leaves no valid dictionary of the same entries.
        for cut in 0..bytes.len() {
            let _ = backing_dev_ino(&bytes[..cut]);
            let _ = dict_entries(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = backing_dev_ino(&b);
            }
        }
    }
    // The last byte of PLAIN is the dictionary's table start: a wrong one is refused.
    let mut b = unhex(PLAIN);
    *b.last_mut().unwrap() = 0xff;
    assert_eq!(dict_entries(&b), None);
    // A key without its NUL, and a table that does not divide into offsets.
    assert_eq!(dict_entries(b"ab\x01"), None);
    assert_eq!(dict_entries(&[0]), None);
    let mut rng = fastrand::Rng::with_seed(11);
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let _ = dict_entries(&bytes);
    }
}

#[test]
fn reading_the_marker_file() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(read_marker(root.path()), Marker::Absent);
    let run = root.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let path = run.join("ostree-booted");
    std::fs::write(&path, b"").unwrap();
    assert_eq!(read_marker(root.path()), Marker::Present(None));
    std::fs::write(&path, unhex(PLAIN)).unwrap();
    let d = DevIno {
        dev: 64769,
        ino: 1_234_567,
    };
    assert_eq!(read_marker(root.path()), Marker::Present(Some(d)));
    // Garbage, an oversized file, or a directory: still booted, without a backing directory.
    std::fs::write(&path, b"not a gvariant").unwrap();
    assert_eq!(read_marker(root.path()), Marker::Present(None));
    let mut big = unhex(PLAIN);
    big.resize(MAX_MARKER as usize + 1, 0);
    std::fs::write(&path, big).unwrap();
    assert_eq!(read_marker(root.path()), Marker::Present(None));
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert_eq!(read_marker(root.path()), Marker::Present(None));
}
