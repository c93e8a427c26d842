#!/bin/bash
# packaging/check-rpm.sh: build the RPM from this working tree on Debian 12 and check what it
# installs. Run as root (tests/run runs it); prints PASS/FAIL lines and "N passed, N failed".
#
#   1. Source0 = a tarball of the files git would commit (tracked, plus untracked files that
#      are not ignored), so uncommitted work is packaged too; works from a clean checkout and,
#      without git, from an unpacked tarball.
#   2. Source1 = `cargo vendor --locked` of that tree (crates.io, cached in ~/.cargo), kept in
#      the scratch directory, never in git.
#   3. rpmbuild -bb --with vendor, with packaging/debian-rpm-macros standing in for Fedora's
#      cargo-rpm-macros/systemd-rpm-macros; %check's smoke test of the installed generator runs.
#   4. rpm -qlp against packaging/files.txt (and the layout block of packaging/README.md);
#      Requires, no scriptlets, License tag vs the build's license summary.
#   5. rpm --root SCRATCH -i, rpm -V, the installed generator on the installed examples, the
#      installed helper, rpm -e.
#
# Build speed: the check build sets CARGO_PROFILE_RPM_LTO=off. The spec and every real build
# keep the workspace's lto = true; with it, the rpmbuild step of three binaries took 5.8 min
# instead of 2.4 min on this project's busy 2-core machine. RPM_LTO=1 keeps LTO here too.
#
# Env: RPM_CARGO_TEST=1 also runs %cargo_test inside rpmbuild. Off by default (--without
#      check): tests/run already runs the same cargo tests, and the second, test-profile build
#      made the whole check take 16 min instead of 3 on a loaded 2-core machine.
#      KEEP=1 keeps the scratch directory /dev/shm/ostree-guests-rpm.* (rpmbuild.log, the RPM).
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."
repo=$PWD
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
need_root
ensure_packages rpm tar gzip
command -v cargo >/dev/null || die "cargo not found in PATH"

name=ostree-guests
spec=packaging/ostree-guests.spec
t0=$EPOCHREALTIME
scratch=$(mktemp -d /dev/shm/ostree-guests-rpm.XXXXXX)
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then log "kept $scratch"; else rm -rf --one-file-system -- "$scratch"; fi
}
trap cleanup EXIT

# ---- versions -----------------------------------------------------------------------------
cargo_ver=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
spec_ver=$(rpmspec -q --srpm --qf '%{VERSION}' --load packaging/debian-rpm-macros --with vendor "$spec" 2>/dev/null) || spec_ver=
if [ -n "$cargo_ver" ] && [ "$spec_ver" = "$cargo_ver" ]; then
	pass "spec Version = Cargo.toml [workspace.package] version" "$spec_ver"
else
	fail "spec Version = Cargo.toml [workspace.package] version" "spec '$spec_ver', Cargo.toml '$cargo_ver'"
fi
ver=${cargo_ver:-$spec_ver}
[ -n "$ver" ] || { check_summary; exit 1; }

# ---- Source0 --------------------------------------------------------------------------------
# The files git would commit; a tracked file deleted in the work tree is left out.
list_sources() {
	local f
	if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$repo" ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
			done
	else
		find . \( -path ./target -o -path ./.git -o -path ./vendor -o -path ./fuzz/target \) -prune \
			-o \( -type f -o -type l \) -printf '%P\0'
	fi
}
top=$scratch/rpmbuild
mkdir -p "$top/SOURCES" "$scratch/stage/$name-$ver" "$scratch/vendor-work"
list_sources | tar -C "$repo" --null -T - -cf - | tar -C "$scratch/stage/$name-$ver" -xf -
tar -C "$scratch/stage" -czf "$top/SOURCES/$name-$ver.tar.gz" "$name-$ver"
pass "Source0 $name-$ver.tar.gz" "$(tar -tzf "$top/SOURCES/$name-$ver.tar.gz" | grep -vc '/$') files"

no_license=
for f in LICENSE-MIT LICENSE-APACHE; do
	if [ -f "$scratch/stage/$name-$ver/$f" ]; then
		pass "license text $f in Source0" ""
	else
		fail "license text $f in Source0" "missing at the repository top; the spec's %files lists it with %license"
		no_license=1
	fi
done
if [ -n "$no_license" ]; then
	log "not building: rpmbuild would fail in %files after the whole build"
	check_summary
	exit 1
fi

# ---- Source1: vendored crates ---------------------------------------------------------------
if (cd "$scratch/stage/$name-$ver" && cargo vendor --locked --quiet "$scratch/vendor-work/vendor") \
	>"$scratch/vendor.log" 2>&1; then
	tar -C "$scratch/vendor-work" -czf "$top/SOURCES/$name-$ver-vendor.tar.gz" vendor
	pass "Source1 $name-$ver-vendor.tar.gz (cargo vendor --locked)" \
		"$(find "$scratch/vendor-work/vendor" -mindepth 1 -maxdepth 1 -type d | wc -l) crates"
else
	fail "Source1 (cargo vendor --locked)" "$(tail -5 "$scratch/vendor.log" | tr '\n' ' ')"
	check_summary
	exit 1
fi

# ---- rpmbuild -------------------------------------------------------------------------------
check_opt=(--without check)
[ "${RPM_CARGO_TEST:-0}" = 1 ] && check_opt=(--with check)
lto_env=(CARGO_PROFILE_RPM_LTO=off)
[ "${RPM_LTO:-0}" = 1 ] && lto_env=()
tb=$EPOCHREALTIME
log "${lto_env[*]} rpmbuild -bb --with vendor ${check_opt[*]} (log: $scratch/rpmbuild.log)"
if env "${lto_env[@]}" rpmbuild -bb --nodeps --with vendor "${check_opt[@]}" \
	--load "$repo/packaging/debian-rpm-macros" \
	--define "_topdir $top" \
	"$repo/$spec" >"$scratch/rpmbuild.log" 2>&1; then
	pass "rpmbuild -bb --with vendor ${check_opt[*]} (includes %check: installed generator --version and --dry-run on the examples)" \
		"$(elapsed_since "$tb")s"
else
	fail "rpmbuild -bb --with vendor ${check_opt[*]}" "$(elapsed_since "$tb")s, see the log tail below"
	tail -40 "$scratch/rpmbuild.log" | sed 's/^/    | /'
	check_summary
	exit 1
fi
if [ "${RPM_CARGO_TEST:-0}" = 1 ]; then
	res=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$scratch/rpmbuild.log" |
		awk '{p += $1; f += $2} END {print p + 0, "passed,", f + 0, "failed"}')
	skips=$(grep -c 'SKIP' "$scratch/rpmbuild.log" || true)
	pass "%cargo_test inside rpmbuild" "$res; $skips SKIP lines"
fi

shopt -s nullglob
rpms=("$top"/RPMS/*/"$name-$ver"-*.rpm)
shopt -u nullglob
if [ ${#rpms[@]} -ne 1 ]; then
	fail "exactly one binary RPM" "found ${#rpms[@]}: $(find "$top/RPMS" -name '*.rpm' -printf '%f ')"
	check_summary
	exit 1
fi
rpm=${rpms[0]}
pass "binary RPM" "$(basename "$rpm"), $(du -h "$rpm" | cut -f1)"

# ---- package contents and metadata ----------------------------------------------------------
rpm -qlp "$rpm" >"$scratch/files.actual"
grep -v -e '^#' -e '^[[:space:]]*$' packaging/files.txt >"$scratch/files.expected" || true
if [ -s "$scratch/files.expected" ] && diff -u "$scratch/files.expected" "$scratch/files.actual" >"$scratch/files.diff"; then
	pass "rpm -qlp = packaging/files.txt" "$(wc -l <"$scratch/files.actual") paths"
else
	fail "rpm -qlp = packaging/files.txt" "diff below (- expected, + actual)"
	sed 's/^/    | /' "$scratch/files.diff"
fi

# packaging/README.md documents the layout in a block between these two marker lines.
sed -n '/^<!-- files.txt begin -->$/,/^<!-- files.txt end -->$/p' packaging/README.md |
	grep '^/' >"$scratch/files.readme" || true
if [ -s "$scratch/files.readme" ] && diff -u "$scratch/files.expected" "$scratch/files.readme" >"$scratch/readme.diff"; then
	pass "packaging/README.md layout block = packaging/files.txt" ""
else
	fail "packaging/README.md layout block = packaging/files.txt" "diff below (- files.txt, + README)"
	sed 's/^/    | /' "$scratch/readme.diff"
fi

reqs=$(rpm -qp --requires "$rpm" 2>/dev/null)
for r in ostree systemd-container; do
	if grep -qx "$r" <<<"$reqs"; then pass "Requires: $r" ""; else fail "Requires: $r" "$(tr '\n' ' ' <<<"$reqs")"; fi
done

scripts=$(rpm -qp --scripts --triggers --filetriggers "$rpm" 2>/dev/null)
if [ -z "$scripts" ]; then
	pass "no scriptlets or triggers (rpm-ostree runs them offline)" ""
else
	fail "no scriptlets or triggers (rpm-ostree runs them offline)" "$(head -3 <<<"$scripts" | tr '\n' ' ')"
fi

# Every license expression the build's %cargo_license_summary printed must be covered by the
# License tag (operands of OR compared as sets; the tag is an AND of such expressions).
canon() { # one expression per line -> operands sorted, " OR "-joined
	sed -e 's/[()]//g' -e 's/ OR /\n/g' | sed 's/^ *//; s/ *$//' | sort -u | paste -sd'|' | sed 's/|/ OR /g'
}
tag=$(rpm -qp --qf '%{LICENSE}' "$rpm")
tag_set=$(printf '%s\n' "${tag// AND /$'\n'}" | while IFS= read -r e; do canon <<<"$e"; done | sort -u)
summary=$(sed -n '/^### BEGIN LICENSE SUMMARY ###$/,/^###  END LICENSE SUMMARY  ###$/s/^# //p' "$scratch/rpmbuild.log" |
	while IFS= read -r e; do canon <<<"$e"; done | sort -u)
uncovered=$(comm -23 <(printf '%s\n' "$summary") <(printf '%s\n' "$tag_set") | paste -sd';')
if [ -n "$summary" ] && [ -z "$uncovered" ]; then
	pass "License tag covers the build's license summary" "$tag"
else
	fail "License tag covers the build's license summary" "tag '$tag'; not covered: '${uncovered:-no summary in log}'"
fi

# ---- install into a scratch root ------------------------------------------------------------
root=$scratch/root
mkdir -p "$root"
# Debian's rpm keeps its database in ~/.rpmdb; use Fedora's place inside the scratch root.
rr=(rpm --root "$root" --dbpath /var/lib/rpm)
check "rpm --root SCRATCH --initdb" "${rr[@]}" --initdb || :
# Debian's rpm refuses to install packages without --force-debian; --nodeps: the scratch root
# has no ostree or systemd-container package.
check "rpm --root SCRATCH -i" "${rr[@]}" --nodeps --force-debian -i "$rpm" || :
check "rpm --root SCRATCH -V (installed files match the package)" "${rr[@]}" --nodeps -V "$name" || :

gen=$root/usr/lib/systemd/system-generators/ostree-guests-generator
helper_path=/usr/libexec/ostree-guests/ostree-guest-start
out=$("$gen" --version 2>&1) || true
if [ "$out" = "ostree-guests-generator $ver" ]; then
	pass "installed generator --version" "$out"
else
	fail "installed generator --version" "$out"
fi
check "installed helper --help" "$root$helper_path" --help || :
out=$("$root/usr/bin/ostree-guests" --version 2>&1) || true
if [ "$out" = "ostree-guests $ver" ]; then
	pass "installed CLI --version" "$out"
else
	fail "installed CLI --version" "$out"
fi

conf=$scratch/config
mkdir -p "$conf/etc/ostree-guests.d"
shopt -s nullglob
examples=("$root/usr/share/doc/$name/examples/"*.toml)
shopt -u nullglob
if [ ${#examples[@]} -eq 0 ]; then
	fail "installed examples" "none in /usr/share/doc/$name/examples"
else
	cp -p "${examples[@]}" "$conf/etc/ostree-guests.d/"
	pass "installed examples" "$(printf '%s ' "${examples[@]##*/}")"
fi
if out=$(OSTREE_GUESTS_ROOT=$conf "$gen" --dry-run 2>&1); then
	pass "installed generator --dry-run on the installed examples" "$(grep -c '^---' <<<"$out") outputs"
else
	fail "installed generator --dry-run on the installed examples" "$(grep -v '^ *$' <<<"$out" | tail -3 | tr '\n' ' ')"
fi

# Normal mode, as systemd runs it: one drop-in per example, each exec'ing the installed helper.
gdir=$scratch/gen
mkdir -p "$gdir/normal" "$gdir/early" "$gdir/late"
OSTREE_GUESTS_ROOT=$conf "$gen" "$gdir/normal" "$gdir/early" "$gdir/late" >"$scratch/gen.log" 2>&1 || true
for ex in "${examples[@]}"; do
	case $ex in *.bridge.toml) continue ;; esac # bridge declarations, not guests
	m=$(basename "$ex" .toml)
	d=$gdir/normal/systemd-nspawn@$m.service.d/50-ostree-guests.conf
	exe=$(sed -n 's/^ExecStart=\([^ ]\+\) .*/\1/p' "$d" 2>/dev/null | tail -1)
	if [ "$exe" = "$helper_path" ] && [ -x "$root$exe" ]; then
		pass "drop-in for $m execs the installed helper" "$exe"
	else
		fail "drop-in for $m execs the installed helper" "ExecStart binary '${exe:-none}' (generator: $(tail -2 "$scratch/gen.log" | tr '\n' ' '))"
	fi
done

bad_man=
for m in "$root"/usr/share/man/man*/*; do
	zcat -f "$m" | grep -q '^\.TH ' || bad_man+=" ${m#"$root"}"
done
if [ -z "$bad_man" ]; then pass "man pages readable (.TH header)" ""; else fail "man pages readable (.TH header)" "$bad_man"; fi

check "rpm --root SCRATCH -e" "${rr[@]}" --nodeps --force-debian -e "$name" || :
left=$(find "$root" -path "$root/var/lib/rpm" -prune -o ! -type d -print | head -5)
if [ -z "$left" ]; then pass "nothing left after rpm -e" ""; else fail "nothing left after rpm -e" "$left"; fi

log "check-rpm.sh took $(elapsed_since "$t0")s"
check_summary
