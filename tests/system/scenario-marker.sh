# shellcheck shell=bash
# Scenario 18 (VM tier only), sourced by scenarios.sh: the /run/ostree-booted that the real
# ostree-prepare-root wrote in the initramfs, read by GLib, against libostree and our detection.
#   * the marker is a non-empty normal-form GVariant a{sv} holding backing-root-device-inode (tt);
#     GLib's own parser reads it (python3-gi, installed in the VM image), not our reader;
#   * libostree's booted deployment, the "*" line of `ostree admin status`, is that directory:
#     the line's format ("%c %s %s.%d", booted ? '*' : ' ', osname, checksum, serial) is the one
#     scenario 0 and status_dep rely on, and unchanged from ostree 2018 to 2025; the flag is
#     ostree_sysroot_get_booted_deployment(), which libostree (2024 and later) finds by that key;
#   * our detection agrees: `ostree-guest-start --dry-run` of a guest on each stateroot refuses
#     exactly libostree's booted one with exit 82 (the helper's refusal comes only from
#     booted_stateroot(), which reads the marker), from a config root of its own
#     (OSTREE_GUESTS_ROOT) so that the probe shares no stateroot with the image's guests.
# The marker is never written here: only ostree-prepare-root writes it.
# Runs with the functions and variables of scenarios.sh ($START, verdict, info, oneline).

marker=/run/ostree-booted
ostree_version=$(ostree --version | sed -n "s/^ *Version: '\{0,1\}\([0-9.]*\).*/\1/p")
if [ "${ostree_version%%.*}" -lt 2024 ] 2>/dev/null; then
	# Debian 12's ostree 2022.7 writes an empty marker: only the agreement below applies.
	info "ostree $ostree_version: /run/ostree-booted is $(stat -c '%s bytes' "$marker" 2>&1) (GVariant markers came later)"
	gvariant_marker=0
else
	gvariant_marker=1
fi

if [ "$gvariant_marker" = 1 ]; then
verdict "/run/ostree-booted is not empty (ostree-prepare-root's GVariant, not the old empty file)" \
	"$(stat -c '%s bytes' "$marker" 2>&1)" test -s "$marker"
# GLib reads the marker: "normal yes|no", one "key NAME TYPE VALUE" line per entry, then
# "backing DEV:INO" (GVariantDict's lookup, as libostree does) or "backing none".
glib_read() {
	python3 - "$marker" <<'PY'
import sys
from gi.repository import GLib
data = open(sys.argv[1], "rb").read()
v = GLib.Variant.new_from_bytes(GLib.VariantType.new("a{sv}"), GLib.Bytes.new(data), False)
print("normal", "yes" if v.is_normal_form() else "no")
for i in range(v.n_children()):
    e = v.get_child_value(i)
    val = e.get_child_value(1).get_variant()
    print("key", e.get_child_value(0).get_string(), val.get_type_string(), val.print_(False))
b = GLib.VariantDict.new(v).lookup_value("backing-root-device-inode", GLib.VariantType.new("(tt)"))
print("backing", "%d:%d" % b.unpack() if b is not None else "none")
PY
}
gl=$(glib_read 2>&1)
info "GLib reads /run/ostree-booted ($(od -An -tx1 -v "$marker" | tr -d ' \n' | cut -c1-400)): $(oneline <<<"$gl")"
backing=$(awk '$1 == "backing" {print $2}' <<<"$gl")
glib_ok() {
	grep -qx "normal yes" <<<"$gl" && grep -q "^key backing-root-device-inode (tt) " <<<"$gl" &&
		[ -n "$backing" ] && [ "$backing" != none ]
}
verdict "GLib parses it as a normal-form a{sv} with backing-root-device-inode (tt)" \
	"$(grep '^key' <<<"$gl" | awk '{printf "%s%s=%s", sep, $2, $3; sep=" "}'); backing ${backing:-?}" glib_ok

fi

# libostree's booted deployment and its directory
star=$(ostree admin status 2>&1 | awk '$1 == "*" {print $2, $3; exit}')
lib_os=${star%% *} lib_dep=${star#* }
lib_dir=/sysroot/ostree/deploy/$lib_os/deploy/$lib_dep
if [ "$gvariant_marker" = 1 ]; then
	verdict "libostree's booted deployment ($star) is the marker's backing directory" \
		"$lib_dir: $(stat -c %d:%i "$lib_dir" 2>&1), marker ${backing:-?}, / $(stat -c %d:%i /)" \
		test -n "$star" -a "$(stat -c %d:%i "$lib_dir" 2>&1)" = "${backing:-none}"
fi

# Ours: which stateroots does the start path refuse as the booted host's own?
probe=$(mktemp -d /tmp/t3-marker.XXXXXX)
mkdir -p "$probe/etc/ostree-guests.d"
refused='' others=''
for os in $(ostree admin status | awk '$1 == "*" {print $2; next} $2 ~ /^[0-9a-f]+\.[0-9]+$/ {print $1}' | sort -u); do
	printf 'autostart = false\nstateroot = "%s"\n[network]\nmode = "none"\n' "$os" >"$probe/etc/ostree-guests.d/probe.toml"
	OSTREE_GUESTS_ROOT=$probe "$START" --dry-run probe >"$probe/out" 2>&1
	rc=$?
	case $rc in
	82) refused="$refused $os" ;;
	0) others="$others $os" ;;
	*) others="$others $os(rc=$rc: $(tail -1 "$probe/out" | cut -c1-80))" ;;
	esac
done
info "ostree-guest-start --dry-run: refused as the host's own:${refused:- none}; started:${others:- none}"
verdict "our booted stateroot is libostree's: exactly '$lib_os' is refused with exit 82" \
	"refused:${refused:- none}; not refused:${others:- none}" test "$refused" = " $lib_os" -a -n "$others"
rm -rf "$probe"
