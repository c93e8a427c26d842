//! The `/run/ostree-booted` reader (`a{sv}` framing and `backing-root-device-inode`).
//!
//! Any bytes: no panic; every key, value and type found lies inside the input; keys hold no NUL;
//! the backing pair is the last entry of that key when it is a 16-byte `(tt)`; and the entries,
//! serialised again in GVariant's normal form by an independent writer below, read back the same.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libfuzzer_sys::fuzz_target;
use ostree_guests::fuzzing::{DevIno, MarkerEntry, marker_backing, marker_entries};

fn width_for(size: usize) -> usize {
    match size {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

/// `body` followed by `offsets`, in the smallest width that suits the final size.
fn framed(mut body: Vec<u8>, offsets: &[usize]) -> Vec<u8> {
    let n = offsets.len();
    let w = [1, 2, 4, 8]
        .into_iter()
        .find(|&w| width_for(body.len() + n * w) == w)
        .unwrap();
    for o in offsets {
        body.extend_from_slice(&(*o as u64).to_le_bytes()[..w]);
    }
    body
}

fn pad8(v: &mut Vec<u8>) {
    while v.len() % 8 != 0 {
        v.push(0);
    }
}

fn serialise(entries: &[MarkerEntry<'_>]) -> Vec<u8> {
    let mut dict = Vec::new();
    let mut ends = Vec::new();
    for MarkerEntry {
        key: k,
        value: v,
        ty: t,
    } in entries
    {
        let mut e = k.to_vec();
        e.push(0);
        let key_end = e.len();
        pad8(&mut e);
        e.extend_from_slice(v);
        e.push(0);
        e.extend_from_slice(t);
        pad8(&mut dict);
        dict.extend_from_slice(&framed(e, &[key_end]));
        ends.push(dict.len());
    }
    if entries.is_empty() {
        return dict;
    }
    framed(dict, &ends)
}

fn inside(data: &[u8], part: &[u8]) -> bool {
    let (d, p) = (data.as_ptr() as usize, part.as_ptr() as usize);
    p >= d && p + part.len() <= d + data.len()
}

fuzz_target!(|data: &[u8]| {
    let backing = marker_backing(data);
    let Some(entries) = marker_entries(data) else {
        assert_eq!(backing, None);
        return;
    };
    for MarkerEntry {
        key: k,
        value: v,
        ty: t,
    } in &entries
    {
        assert!(inside(data, k) && inside(data, v) && inside(data, t));
        assert!(!k.contains(&0), "{k:?}");
        assert!(!t.is_empty() && !t.contains(&0), "{t:?}");
    }
    let last = entries
        .iter()
        .rev()
        .find(|e| e.key == b"backing-root-device-inode");
    let want = last.and_then(|e| {
        (e.ty == b"(tt)" && e.value.len() == 16).then(|| {
            let u = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
            DevIno {
                dev: u(&e.value[..8]),
                ino: u(&e.value[8..]),
            }
        })
    });
    assert_eq!(backing, want);
    let again = serialise(&entries);
    assert_eq!(marker_entries(&again), Some(entries), "{again:?}");
    assert_eq!(marker_backing(&again), backing);
});
