#!/usr/bin/python3
"""Prints the GLib-serialised /run/ostree-booted fixtures of marker_tests.rs as `NAME HEX` lines.

Needs Debian's python3-gi (/usr/bin/python3, not a virtualenv). The dictionaries follow
ostree-prepare-root's (src/libotcore/otcore-prepare-root.c): backing-root-device-inode is a (tt).
"""
from gi.repository import GLib

V = GLib.Variant
CASES = {
    # without composefs, in otcore_mount_rootfs' order
    "plain": {
        "backing-root-device-inode": V("(tt)", (64769, 1234567)),
        "root.transient": V("b", False),
        "root.transient-ro": V("b", False),
        "sysroot-ro": V("b", True),
    },
    # composefs with a signature: a long string forces 2-byte framing offsets
    "composefs": {
        "backing-root-device-inode": V("(tt)", (0xFD00_0000_0003, 0x1_0000_0000_0012)),
        "root.transient": V("b", False),
        "root.transient-ro": V("b", False),
        "composefs": V("b", True),
        "composefs.signed": V("s", "x" * 300),
        "sysroot-ro": V("b", True),
    },
    "nokey": {"sysroot-ro": V("b", True), "composefs": V("b", True)},
    "wrongtype": {"backing-root-device-inode": V("(uu)", (1, 2))},
}
for name, d in CASES.items():
    print(name, V("a{sv}", d).get_data_as_bytes().get_data().hex())

# A repeated key (a dict literal cannot hold one): GVariantDict keeps the last.
b = GLib.VariantBuilder.new(GLib.VariantType("a{sv}"))
for k, v in [
    ("backing-root-device-inode", V("(tt)", (1, 2))),
    ("sysroot-ro", V("b", True)),
    ("backing-root-device-inode", V("(tt)", (3, 4))),
]:
    b.add_value(V("{sv}", (k, v)))
print("duplicate2", b.end().get_data_as_bytes().get_data().hex())
