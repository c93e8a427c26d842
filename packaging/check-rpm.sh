#!/bin/bash
# packaging/check-rpm.sh: build the RPM from this working tree on Debian 12 and check what it
# installs. Run as root (tests/run runs it); prints PASS/FAIL lines and "N passed, N failed".
#
#   1. Source0 = a tarball of the files git would commit (tracked, plus untracked files that
#      are not ignored), so uncommitted work is packaged too; works from a clean checkout and,
#      without git, from an unpacked tarball.
#   2. Source1 = `cargo vendor --locked` of that tree (crates.io, cached in ~/.cargo), cached as
#      a tarball under $CACHE keyed by Cargo.lock's sha256, never in git.
#   3. Spec checks without building: ExcludeArch %{ix86}, the completion-directory macros (no
#      hard-coded path; the fallbacks yield to an rpm that defines them), make install honours
#      CARGO_TARGET_DIR.
#   4. The COPR way (packaging/README.md): a copy of the spec with `%bcond vendor 1`, rpmbuild -bs,
#      then rpmbuild --rebuild of that SRPM alone (no --with), with packaging/debian-rpm-macros
#      standing in for Fedora's cargo-rpm-macros/systemd-rpm-macros, except that the license
#      summary and vendor manifest come from the real cargo2rpm (PyPI, in a venv under $CACHE);
#      %check's smoke test of the installed generator runs.
#   5. rpm -qlp against packaging/files.txt (and the layout block of packaging/README.md);
#      Requires, scriptlets only for the auto-update timer, the License tag equal to cargo2rpm's
#      license summary over all targets, the man pages' synopses.
#   6. rpm --root SCRATCH -i, rpm -V, the installed generator on the installed examples, the
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
ensure_packages rpm tar gzip python3 python3-venv
command -v cargo >/dev/null || die "cargo not found in PATH"
CACHE=${CACHE:-${OSTREE_GUESTS_CACHE:-/var/tmp/ostree-guests/cache}/rpm}
mkdir -p "$CACHE"

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
# The tarball depends on Cargo.lock alone (cargo vendor --locked), so it is cached by its hash.
lock_hash=$(sha256sum "$scratch/stage/$name-$ver/Cargo.lock" | cut -c1-16)
vendor_cached=$CACHE/vendor-$lock_hash.tar.gz
if [ -s "$vendor_cached" ]; then
	cp "$vendor_cached" "$top/SOURCES/$name-$ver-vendor.tar.gz"
	pass "Source1 $name-$ver-vendor.tar.gz (cached for Cargo.lock $lock_hash)" "$vendor_cached"
elif (cd "$scratch/stage/$name-$ver" && cargo vendor --locked --quiet "$scratch/vendor-work/vendor") \
	>"$scratch/vendor.log" 2>&1; then
	tar -C "$scratch/vendor-work" -czf "$top/SOURCES/$name-$ver-vendor.tar.gz" vendor
	cp "$top/SOURCES/$name-$ver-vendor.tar.gz" "$vendor_cached.tmp.$$" && mv -f "$vendor_cached.tmp.$$" "$vendor_cached"
	find "$CACHE" -maxdepth 1 -name 'vendor-*.tar.gz' ! -name "${vendor_cached##*/}" -mtime +14 -delete
	pass "Source1 $name-$ver-vendor.tar.gz (cargo vendor --locked)" \
		"$(find "$scratch/vendor-work/vendor" -mindepth 1 -maxdepth 1 -type d | wc -l) crates"
else
	fail "Source1 (cargo vendor --locked)" "$(tail -5 "$scratch/vendor.log" | tr '\n' ' ')"
	check_summary
	exit 1
fi

# ---- cargo2rpm, Fedora's tool for the license summary -----------------------------------------
# Debian's own python3 (not a pyenv one in PATH), a venv cached per cargo2rpm version.
c2r_ver=0.4.0
c2r_venv=$CACHE/cargo2rpm-$c2r_ver
if ! "$c2r_venv/bin/cargo2rpm" --help >/dev/null 2>&1; then
	rm -rf "$c2r_venv"
	if ! { /usr/bin/python3 -m venv "$c2r_venv" &&
		"$c2r_venv/bin/pip" install -q --disable-pip-version-check "cargo2rpm==$c2r_ver"; } >"$scratch/pip.log" 2>&1; then
		fail "cargo2rpm $c2r_ver in a venv (pip install)" "$(tail -3 "$scratch/pip.log" | tr '\n' ' ')"
		check_summary
		exit 1
	fi
fi
pass "cargo2rpm $c2r_ver" "$c2r_venv"
# cargo2rpm runs cargo with CARGO_HOME=.cargo and RUSTC_BOOTSTRAP=1 as its whole environment;
# a rustup toolchain needs PATH (for rustc) and RUSTUP_HOME back.
mkdir -p "$scratch/bin"
printf '#!/bin/sh\nPATH=%q\nRUSTUP_HOME=%q\nexport PATH RUSTUP_HOME\nexec cargo "$@"\n' \
	"$PATH" "${RUSTUP_HOME:-$HOME/.rustup}" >"$scratch/bin/cargo"
chmod +x "$scratch/bin/cargo"
c2r_macro="__cargo2rpm /usr/bin/env CARGO=$scratch/bin/cargo $c2r_venv/bin/cargo2rpm"

# ---- the spec, without building ---------------------------------------------------------------
qspec() { rpmspec --load "$repo/packaging/debian-rpm-macros" "$@" 2>/dev/null; }
excl=$(qspec -q --srpm --qf '[%{EXCLUDEARCH} ]' "$spec") || excl=
if [[ " $excl " == *" i686 "* && " $excl " == *" i386 "* ]]; then
	pass "ExcludeArch: %{ix86}" "$excl"
else
	fail "ExcludeArch: %{ix86}" "spec excludes '${excl:-nothing}'; Fedora's Rust packages exclude %{ix86}"
fi
# Completions: only the three macros (Fedora's Shell Completions guidelines), and the spec's
# fallbacks must give way to an rpm that defines them (/X/... stands for such an rpm).
hard=$(grep -nE 'bash-completion|zsh/site-functions|fish/vendor_completions' "$spec" |
	grep -vE '^[0-9]+:(#|%\{!\?(bash|zsh|fish)_completions_dir:%global )' | tr '\n' ' ') || true
parsed=$(qspec --parse --with vendor --define 'bash_completions_dir /X/bash' \
	--define 'zsh_completions_dir /X/zsh' --define 'fish_completions_dir /X/fish' "$spec" |
	sed -n '/^%files/,$p') || parsed=
dflt=$(qspec --parse --with vendor "$spec" | sed -n '/^%files/,$p') || dflt=
if [ -z "$hard" ] && grep -qx '/X/bash/ostree-guests' <<<"$parsed" && grep -qx '/X/zsh/_ostree-guests' <<<"$parsed" &&
	grep -qx '/X/fish/ostree-guests.fish' <<<"$parsed" &&
	grep -qx '/usr/share/bash-completion/completions/ostree-guests' <<<"$dflt"; then
	pass "completions through %{bash,zsh,fish}_completions_dir; fallbacks only where rpm lacks them" ""
else
	fail "completions through %{bash,zsh,fish}_completions_dir; fallbacks only where rpm lacks them" \
		"hard-coded: '${hard:-none}'; %files with the macros predefined as /X/...: $(grep -E '^/X/|ostree-guests.fish|_ostree-guests' <<<"$parsed" | tr '\n' ' ')"
fi
# make install must take the binaries from where make build (cargo) put them.
# awk reads all of make's output: `grep -m1` exits at the match, and make's SIGPIPE then failed the
# pipeline (pipefail) about one run in three.
mk=$(CARGO_TARGET_DIR=/nonexistent/target-dir make -s -n -C "$repo" install DESTDIR=/nonexistent/dest 2>/dev/null |
	awk 'index($0, "completions bash") && !n++') || mk=
if [[ $mk == /nonexistent/target-dir/release/ostree-guests\ completions* ]]; then
	pass "make install honours CARGO_TARGET_DIR" "make -n: ${mk%% >*}"
else
	fail "make install honours CARGO_TARGET_DIR" "make -n install runs: '${mk:-nothing}'"
fi

# ---- SRPM, the COPR way, then its rebuild ----------------------------------------------------
# packaging/README.md: `--with` is not recorded in an SRPM, so a vendored SRPM is built from a
# copy of the spec whose default is flipped; the rebuild gets no --with and must find everything
# (both sources, the vendored default) in the SRPM.
mkdir -p "$scratch/spec"
sed 's/^%bcond vendor 0$/%bcond vendor 1/' "$spec" >"$scratch/spec/$name.spec"
flipped=$(diff "$spec" "$scratch/spec/$name.spec" | grep -c '^[<>]') || true
if [ "$flipped" = 2 ] &&
	rpmbuild -bs --load "$repo/packaging/debian-rpm-macros" --define "_topdir $top" \
		"$scratch/spec/$name.spec" >"$scratch/srpm.log" 2>&1; then
	srpm=$(find "$top/SRPMS" -name "$name-$ver-*.src.rpm" | head -1)
	srcs=$(rpm -qlp "$srpm" 2>/dev/null | tr '\n' ' ')
	if [[ " $srcs " == *" $name-$ver.tar.gz "* && " $srcs " == *" $name-$ver-vendor.tar.gz "* ]]; then
		pass "SRPM for COPR (vendored by default; Source0, Source1)" "$(basename "$srpm"): $srcs"
	else
		fail "SRPM for COPR (vendored by default; Source0, Source1)" "${srpm:-no SRPM} holds: $srcs"
	fi
else
	if [ "$flipped" != 2 ]; then
		why="sed 's/^%bcond vendor 0\$/%bcond vendor 1/' changed $((flipped / 2)) lines of the spec, not exactly one: the spec must default to the unvendored build with that line"
	else
		why="rpmbuild -bs: $(tail -3 "$scratch/srpm.log" | tr '\n' ' ')"
	fi
	fail "SRPM for COPR: spec copy with %bcond vendor 1, rpmbuild -bs" "$why"
	check_summary
	exit 1
fi

check_opt=(--without check)
[ "${RPM_CARGO_TEST:-0}" = 1 ] && check_opt=(--with check)
lto_env=(CARGO_PROFILE_RPM_LTO=off)
[ "${RPM_LTO:-0}" = 1 ] && lto_env=()
tb=$EPOCHREALTIME
log "${lto_env[*]} rpmbuild --rebuild SRPM ${check_opt[*]} (log: $scratch/rpmbuild.log)"
# env -u CARGO_TARGET_DIR: a builder's environment has none, and the spec installs from cargo's
# default target/rpm; one exported by the caller (tests/run, a developer) would move the build.
if env -u CARGO_TARGET_DIR "${lto_env[@]}" rpmbuild --rebuild --nodeps "${check_opt[@]}" \
	--load "$repo/packaging/debian-rpm-macros" \
	--define "_topdir $top" --define "$c2r_macro" \
	"$srpm" >"$scratch/rpmbuild.log" 2>&1; then
	pass "rpmbuild --rebuild SRPM ${check_opt[*]} (includes %check: installed generator --version and --dry-run on the examples)" \
		"$(elapsed_since "$tb")s"
else
	fail "rpmbuild --rebuild SRPM ${check_opt[*]}" "$(elapsed_since "$tb")s, see the log tail below"
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

# Scriptlets: %post, %preun, %postun for the auto-update timer (the only unit with [Install]),
# nothing else, no triggers.
scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
kinds=$(grep -o '^[a-z]* scriptlet' <<<"$scripts" | sort | paste -sd' ') || kinds=
units=$(grep -oE '[A-Za-z0-9@_.-]+\.(service|timer|socket|path|mount)' <<<"$scripts" | sort -u | paste -sd' ') || units=
triggers=$(rpm -qp --triggers --filetriggers "$rpm" 2>/dev/null)
if [ "$kinds" = "postinstall scriptlet postuninstall scriptlet preuninstall scriptlet" ] &&
	[ "$units" = "ostree-guests-auto-update.timer" ] && [ -z "$triggers" ]; then
	pass "scriptlets: %systemd_post/preun/postun for ostree-guests-auto-update.timer only, no triggers" ""
else
	fail "scriptlets: %systemd_post/preun/postun for ostree-guests-auto-update.timer only, no triggers" \
		"scriptlets '$kinds', units '$units', triggers '$(head -2 <<<"$triggers" | tr '\n' ' ')'"
fi

# The License tag must be exactly cargo2rpm's license summary (all targets), which the build
# printed: each expression's OR-operands compared as a set, the tag an AND of such expressions.
# Both directions: an expression the tag lacks, and one it has that the summary does not.
canon() { # one expression per line -> operands sorted, " OR "-joined
	sed -e 's/[()]//g' -e 's/ OR /\n/g' | sed 's/^ *//; s/ *$//' | sort -u | paste -sd'|' | sed 's/|/ OR /g'
}
tag=$(rpm -qp --qf '%{LICENSE}' "$rpm")
tag_set=$(printf '%s\n' "${tag// AND /$'\n'}" | while IFS= read -r e; do canon <<<"$e"; done | sort -u)
summary=$(sed -n '/^### BEGIN LICENSE SUMMARY ###$/,/^###  END LICENSE SUMMARY  ###$/s/^# //p' "$scratch/rpmbuild.log" |
	while IFS= read -r e; do canon <<<"$e"; done | sort -u)
lic_missing=$(comm -23 <(printf '%s\n' "$summary") <(printf '%s\n' "$tag_set") | paste -sd';')
extra=$(comm -13 <(printf '%s\n' "$summary") <(printf '%s\n' "$tag_set") | paste -sd';')
computed=$(while IFS= read -r e; do
	case $e in *' OR '* | *' AND '*) printf '(%s)\n' "$e" ;; *) printf '%s\n' "$e" ;; esac
done <<<"$summary" | paste -sd'|' | sed 's/|/ AND /g')
if [ -n "$summary" ] && [ -z "$lic_missing" ] && [ -z "$extra" ]; then
	pass "License tag = cargo2rpm license summary over all targets" "$tag"
else
	fail "License tag = cargo2rpm license summary over all targets" \
		"tag lacks '$lic_missing', tag has extra '$extra'; computed: License: ${computed:-no summary in log}"
fi

# ---- install into a scratch root ------------------------------------------------------------
root=$scratch/root
mkdir -p "$root"
# Debian's rpm keeps its database in ~/.rpmdb; use Fedora's place inside the scratch root.
rr=(rpm --root "$root" --dbpath /var/lib/rpm)
check "rpm --root SCRATCH --initdb" "${rr[@]}" --initdb || :
# Debian's rpm refuses to install packages without --force-debian; --nodeps: the scratch root
# has no ostree or systemd-container package.
# --noscripts: the scratch root has no /bin/sh or systemctl to run the unit scriptlets with.
check "rpm --root SCRATCH -i" "${rr[@]}" --nodeps --noscripts --force-debian -i "$rpm" || :
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
	# grep without -q: under pipefail, grep -q leaving early makes zcat of a long page die of
	# SIGPIPE and the pipeline fail although the header is there.
	zcat -f "$m" | grep '^\.TH ' >/dev/null || bad_man+=" ${m#"$root"}"
done
if [ -z "$bad_man" ]; then pass "man pages readable (.TH header)" ""; else fail "man pages readable (.TH header)" "$bad_man"; fi
# Each command's page: the synopsis shows what a user types (`ostree-guests list`, not a binary
# ostree-guests-list) and the global -q.
bad_syn="" nsub=0
for m in "$root"/usr/share/man/man1/ostree-guests-*.1.gz; do
	sub=${m##*/ostree-guests-}
	sub=${sub%.1.gz}
	nsub=$((nsub + 1))
	syn=$(zcat "$m" | sed -n '/^\.SH SYNOPSIS/{n;p;}')
	want='\fBostree\-guests '"${sub//-/\\-}"'\fR '
	[[ $syn == "$want"* && $syn == *'\fB\-q\fR|\fB\-\-quiet\fR'* ]] || bad_syn+=" ${m##*/}: '$syn'"
done
if [ "$nsub" -gt 0 ] && [ -z "$bad_syn" ]; then
	pass "command man pages: SYNOPSIS 'ostree-guests COMMAND' with -q" "$nsub pages"
else
	fail "command man pages: SYNOPSIS 'ostree-guests COMMAND' with -q" "${bad_syn:-no pages}"
fi

check "rpm --root SCRATCH -e" "${rr[@]}" --nodeps --noscripts --force-debian -e "$name" || :
left=$(find "$root" -path "$root/var/lib/rpm" -prune -o ! -type d -print | head -5)
if [ -z "$left" ]; then pass "nothing left after rpm -e" ""; else fail "nothing left after rpm -e" "$left"; fi

log "check-rpm.sh took $(elapsed_since "$t0")s"
check_summary
