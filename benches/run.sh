#!/bin/bash
# The benchmark suite (issue 10): our generator, start helper and in-process resolution next to
# their peers, all measured in one run on this machine, reported as medians and ratios.
#
#   generators    ostree-guests-generator with N = 1, 20, 200 guest files against
#                 systemd-fstab-generator (N fstab entries), zram-generator (N devices) and
#                 Podman's Quadlet (N .container files, from Debian 13's podman .deb, unpacked
#                 into scratch and never installed); inputs and outputs on tmpfs
#   helper        ostree-guest-start --dry-run (whole process: config, resolution, command line)
#                 against the hand-made recipe's `ostree admin status | sed …`, on the same real
#                 sysroots with 2 and 8 deployments, with /bin/true as the floor
#   in-process    `cargo bench -p ostree-guests --bench resolve` on the 8-deployment sysroot
#   memory, size  peak RSS (/usr/bin/time -f %M), stripped binary sizes, and instruction counts
#                 (callgrind; repeatable where timings are not)
#
# Usage (root):  benches/run.sh [OUT-DIR]        (default target/bench)
# Writes OUT-DIR/results.md (also printed) and the raw hyperfine JSON under OUT-DIR/raw/.
# Environment: ROUNDS (default 5) and RUNS (default 40): every hyperfine group is run ROUNDS
# times with RUNS runs per command, so load that drifts while other work shares the machine
# hits every command alike; the medians pool all rounds. QUADLET_REFRESH=1 looks up the
# current podman version in Debian 13 again instead of using the cached .deb.
# Not part of CI: timings on shared machines are noisy; compare ratios from one run.
set -euo pipefail
repo=$(dirname "$(realpath "$0")")/..
cd "$repo"
repo=$PWD
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=tests/lib/mk-sysroot.sh
source tests/lib/mk-sysroot.sh
need_root
ensure_packages ostree hyperfine debootstrap e2fsprogs systemd-zram-generator valgrind time \
	binutils python3 ca-certificates

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(realpath -m "${1:-target/bench}")
raw=$out/raw
rounds=${ROUNDS:-5}
runs=${RUNS:-40}
cache=/var/tmp/ostree-guests/cache
mkdir -p "$raw" "$cache"
rm -f "$raw"/*
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
unset SYSTEMD_EXEC_PID

log "building the release binaries"
cargo build --release --locked -q -p ostree-guests-generator -p ostree-guests-helpers
gen=$repo/target/release/ostree-guests-generator
helper=$repo/target/release/ostree-guest-start
# The same helper linked statically (static-pie; glibc's libc.a comes with libc6-dev). Packages
# ship the dynamic one; this one shows how much of a start is the dynamic loader's.
log "building the helper as a static-pie executable (for comparison only)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -q -p ostree-guests-helpers \
	--target x86_64-unknown-linux-gnu --target-dir "$repo/target/bench-static"
helper_static=$repo/target/bench-static/x86_64-unknown-linux-gnu/release/ostree-guest-start
readelf -l "$helper_static" | grep -q 'Requesting program interpreter' && die "$helper_static is not static"
fstab_gen=/lib/systemd/system-generators/systemd-fstab-generator
zram_gen=/lib/systemd/system-generators/zram-generator
[ -x "$fstab_gen" ] || die "$fstab_gen missing"
[ -x "$zram_gen" ] || die "$zram_gen missing"

work=$(mktemp -d /dev/shm/ostree-guests-bench.XXXXXX)
cleanup() {
	local s
	for s in "$work"/s*; do remove_tree "$s"; done
	remove_tree "$work"
}
trap cleanup EXIT
[ "$(stat -f -c %T "$work")" = tmpfs ] || die "$work is not on tmpfs"

# ---- Quadlet from Debian 13's podman package ------------------------------------------------
# Debian 12 has no Quadlet. The .deb comes from trixie through a private apt configuration (own
# sources list, state and cache; the system's apt state is never touched) and is cached under
# $cache keyed by its version; only the quadlet binary is used, from a dpkg -x in scratch.
fetch_podman_deb() {
	local apt mirror arch opts ver
	apt=$work/apt
	mirror=$(debian_mirror) || return 1
	arch=$(dpkg --print-architecture)
	mkdir -p "$apt/parts" "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/dl"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
		>"$apt/sources.list"
	opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
		-o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o "Dir::State::status=/dev/null"
		-o APT::Sandbox::User=root -o Acquire::Languages=none -o "APT::Architecture=$arch")
	log "looking up podman in Debian 13 (trixie) at $mirror"
	apt-get -qq "${opts[@]}" update >/dev/null || return 1
	ver=$(apt-cache "${opts[@]}" show --no-all-versions podman | sed -n 's/^Version: //p' | head -1)
	[ -n "$ver" ] || return 1
	if [ -e "$cache/podman_${ver//:/%3a}_$arch.deb" ]; then
		echo "$cache/podman_${ver//:/%3a}_$arch.deb"
		return 0
	fi
	(cd "$apt/dl" && apt-get -qq "${opts[@]}" download "podman=$ver" >/dev/null) || return 1
	mv "$apt"/dl/podman_*.deb "$cache/" || return 1
	echo "$cache/podman_${ver//:/%3a}_$arch.deb"
}

quadlet=
quadlet_note=
deb=$(find "$cache" -maxdepth 1 -name 'podman_*.deb' | sort -V | tail -1)
if [ -z "$deb" ] || [ -n "${QUADLET_REFRESH:-}" ]; then
	deb=$(fetch_podman_deb) || deb=
fi
if [ -n "$deb" ]; then
	dpkg -x "$deb" "$work/podman"
	quadlet=$work/podman/usr/libexec/podman/quadlet
	if ! qv=$("$quadlet" -version 2>&1); then
		quadlet_note="Quadlet from $(basename "$deb") does not run on this system's libc: $qv"
		quadlet=
	else
		log "Quadlet $qv from $(basename "$deb") runs here (glibc $(getconf GNU_LIBC_VERSION | cut -d" " -f2))"
	fi
else
	quadlet_note="no podman .deb from Debian 13 could be fetched (network?); Quadlet left out"
fi
[ -z "$quadlet_note" ] || log "$quadlet_note"

# ---- generator inputs -------------------------------------------------------------------------
# Comparable units: a guest with a description, a port and a memory limit; a tmpfs mount; a
# zram swap device; a container with an image, a port and an install section.
for n in 1 20 200; do
	d=$work/gen$n
	mkdir -p "$d/root/etc/ostree-guests.d" "$d/zram/etc/systemd" "$d/zram/proc" "$d/quadlet"
	for ((i = 1; i <= n; i++)); do
		printf 'description = "bench guest %d"\n[network]\nports = ["tcp:%d:80"]\n[resources]\nmemory-max = "2G"\n' \
			"$i" $((8000 + i)) >"$d/root/etc/ostree-guests.d/g$i.toml"
		printf 'tmpfs /srv/bench/g%d tmpfs defaults,size=64M 0 0\n' "$i" >>"$d/fstab"
		printf '[zram%d]\nzram-size = ram / 2\n\n' $((i - 1)) >>"$d/zram/etc/systemd/zram-generator.conf"
		printf '[Unit]\nDescription=bench container %d\n\n[Container]\nImage=registry.example.org/bench:latest\nPublishPort=%d:80\n\n[Install]\nWantedBy=multi-user.target\n' \
			"$i" $((8000 + i)) >"$d/quadlet/g$i.container"
	done
	# zram-generator reads these below its root; the real ones, copied
	cp /proc/meminfo "$d/zram/proc/meminfo"
	: >"$d/zram/proc/cmdline"
	mkdir -p "$d/out"
done
cat >"$work/reset" <<'EOF'
#!/bin/sh
# an empty output directory before every run, as systemd gives generators
rm -rf "$1" && mkdir "$1"
EOF
chmod +x "$work/reset"

# Each generator reads only its own variable, so one environment serves all of them.
gen_env() {
	local d=$work/gen$1
	export OSTREE_GUESTS_ROOT=$d/root SYSTEMD_FSTAB=$d/fstab SYSTEMD_PROC_CMDLINE='' \
		SYSTEMD_IN_INITRD=0 ZRAM_GENERATOR_ROOT=$d/zram QUADLET_UNIT_DIRS=$d/quadlet \
		SYSTEMD_LOG_LEVEL=err
}

# NAME|COMMAND-PREFIX pairs; every generator gets NORMAL EARLY LATE = the same fresh directory.
generators=("ostree-guests-generator|$gen" "systemd-fstab-generator|$fstab_gen" "zram-generator|$zram_gen")
[ -n "$quadlet" ] && generators+=("quadlet|$quadlet")

count() { find "$1" -type f -name "$2" | wc -l; }
# timed JSON ARGS...: one hyperfine round; its warnings about outliers (expected here) go to a
# log that is shown when hyperfine fails
timed() {
	local json=$1
	shift
	hyperfine -N --warmup 3 --runs "$runs" --style none --export-json "$json" "$@" \
		>/dev/null 2>>"$raw/hyperfine.log" || { tail -20 "$raw/hyperfine.log" >&2; die "hyperfine failed"; }
}
for n in 1 20 200; do
	gen_env $n
	o=$work/gen$n/out
	# Every peer must really produce its N units, or the timing compares nothing.
	for g in "${generators[@]}"; do
		name=${g%%|*} cmd=${g#*|}
		"$work/reset" "$o/$name"
		"$cmd" "$o/$name" "$o/$name" "$o/$name" >/dev/null 2>&1 || die "$name failed on N=$n"
	done
	[ "$(count "$o/ostree-guests-generator" 50-ostree-guests.conf)" = $n ] || die "ours: not $n drop-ins"
	[ "$(count "$o/systemd-fstab-generator" 'srv-bench-g*.mount')" = $n ] || die "fstab: not $n mounts"
	[ "$(count "$o/zram-generator" 'dev-zram*.swap')" = $n ] || die "zram: not $n swaps"
	[ -z "$quadlet" ] || [ "$(count "$o/quadlet" 'g*.service')" = $n ] || die "quadlet: not $n units"
	log "generators, N=$n: each wrote its $n units; timing ($rounds rounds x $runs runs)"
	for ((r = 1; r <= rounds; r++)); do
		args=()
		for g in "${generators[@]}"; do
			name=${g%%|*} cmd=${g#*|}
			args+=(--prepare "$work/reset $o/$name" -n "$name" "$cmd $o/$name $o/$name $o/$name")
		done
		# ours without writing (it prints instead): parsing and rendering alone, so the
		# report can split the per-guest cost into work and file creation
		args+=(--prepare "$work/reset $o/true" -n "ostree-guests-generator --dry-run" "$gen --dry-run")
		args+=(--prepare "$work/reset $o/true" -n /bin/true /bin/true)
		timed "$raw/gen-$n-r$r.json" "${args[@]}"
	done
done
unset OSTREE_GUESTS_ROOT SYSTEMD_FSTAB SYSTEMD_PROC_CMDLINE SYSTEMD_IN_INITRD ZRAM_GENERATOR_ROOT \
	QUADLET_UNIT_DIRS SYSTEMD_LOG_LEVEL

# ---- start helper vs the recipe's pipeline ----------------------------------------------------
for n in 2 8; do
	# n deployments: the default "host" plus n-1 guest stateroots; the benchmark resolves g1.
	guests=()
	for ((i = 1; i < n; i++)); do guests+=("g$i"); done
	log "building a sysroot with $n deployments"
	mk_sysroot --with-host --dir "$work/s$n" "${guests[@]}" >/dev/null 2>&1
	mkdir -p "$work/root$n/etc/ostree-guests.d"
	echo 'stateroot = "g1"' >"$work/root$n/etc/ostree-guests.d/g1.toml"
	export OSTREE_GUESTS_ROOT=$work/root$n OSTREE_GUESTS_SYSROOT=$work/s$n OSTREE_GUESTS_BOOT=$work/s$n/boot
	ours=$("$helper" --dry-run g1 | sed -n 's/^deployment: //p')
	# The recipe's pipeline, as its ExecStart ran it (first "  g1 <csum>.<serial>" line).
	recipe="ostree admin status --sysroot=$work/s$n | sed -ne 's/. g1 \(\S*\)\( .*\)*\$/\1/; T; p; q'"
	theirs=$(sh -c "$recipe")
	[ "$ours" = "$theirs" ] || die "n=$n: helper resolved $ours, the recipe $theirs"
	log "helper, $n deployments: both resolve g1 to $ours; timing ($rounds rounds x $runs runs)"
	[ "$("$helper_static" --dry-run g1)" = "$("$helper" --dry-run g1)" ] ||
		die "n=$n: the static-pie helper says something else"
	for ((r = 1; r <= rounds; r++)); do
		# --help: our binary started and ended with no work, the floor of its own start-up
		timed "$raw/helper-$n-r$r.json" \
			-n "ostree-guest-start --dry-run" "$helper --dry-run g1" \
			-n "ostree admin status | sed" "sh -c \"$recipe\"" \
			-n "/bin/true" "/bin/true" \
			-n "ostree-guest-start --help" "$helper --help" \
			-n "ostree-guest-start --dry-run, static-pie" "$helper_static --dry-run g1"
	done
	unset OSTREE_GUESTS_ROOT OSTREE_GUESTS_SYSROOT OSTREE_GUESTS_BOOT
done

# ---- in-process resolution ------------------------------------------------------------------
log "in-process resolution: cargo bench (release profile; the first build takes minutes)"
OSTREE_GUESTS_BENCH_SYSROOT=$work/s8 OSTREE_GUESTS_BENCH_STATEROOT=g1 \
	cargo bench --locked -q -p ostree-guests --bench resolve 2>"$raw/inproc.err" |
	grep '^|' >"$raw/inproc.md" || { cat "$raw/inproc.err" >&2; die "cargo bench failed"; }

log "file-system floor of the generator's output: cargo bench --bench output_floor"
OSTREE_GUESTS_BENCH_DIR=$work cargo bench --locked -q -p ostree-guests --bench output_floor \
	2>"$raw/floor.err" | grep '^|' >"$raw/floor.md" || { cat "$raw/floor.err" >&2; die "cargo bench failed"; }

# ---- peak RSS, instructions, sizes ------------------------------------------------------------
# median of 5 runs of /usr/bin/time -f %M (KiB); for the pipeline, its largest process
rss() {
	local label=$1 vals=()
	shift
	for _ in 1 2 3 4 5; do
		/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
		vals+=("$(tail -1 "$work/rss")")
	done
	printf '%s\t%s\n' "$label" "$(printf '%s\n' "${vals[@]}" | sort -n | sed -n 3p)" >>"$raw/rss.tsv"
}
# instructions executed, user space, whole process (callgrind; deterministic)
instr() {
	local label=$1 n
	shift
	n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
	printf '%s\t%s\n' "$label" "$n" >>"$raw/instr.tsv"
}
log "peak RSS and instruction counts"
: >"$raw/rss.tsv"
: >"$raw/instr.tsv"
for n in 1 200; do
	gen_env $n
	o=$work/gen$n/out
	for g in "${generators[@]}"; do
		name=${g%%|*} cmd=${g#*|}
		"$work/reset" "$o/$name"
		rss "$name N=$n" "$cmd" "$o/$name" "$o/$name" "$o/$name"
	done
	"$work/reset" "$o/ours"
	instr "ostree-guests-generator N=$n" "$gen" "$o/ours" "$o/ours" "$o/ours"
done
unset OSTREE_GUESTS_ROOT SYSTEMD_FSTAB SYSTEMD_PROC_CMDLINE SYSTEMD_IN_INITRD ZRAM_GENERATOR_ROOT \
	QUADLET_UNIT_DIRS SYSTEMD_LOG_LEVEL
for n in 2 8; do
	export OSTREE_GUESTS_ROOT=$work/root$n OSTREE_GUESTS_SYSROOT=$work/s$n OSTREE_GUESTS_BOOT=$work/s$n/boot
	rss "ostree-guest-start --dry-run, $n deployments" "$helper" --dry-run g1
	rss "ostree admin status | sed, $n deployments" sh -c "ostree admin status --sysroot=$work/s$n | sed -ne 's/. g1 \(\S*\)\( .*\)*\$/\1/; T; p; q'"
	instr "ostree-guest-start --dry-run, $n deployments" "$helper" --dry-run g1
	unset OSTREE_GUESTS_ROOT OSTREE_GUESTS_SYSROOT OSTREE_GUESTS_BOOT
done
rss "/bin/true" /bin/true
instr "/bin/true" /bin/true

size() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$(stat -c %s "$2")" \
		"$(ldd "$2" 2>/dev/null | awk '$3 ~ /^\// && $1 !~ /^(libc|libm|libgcc_s|ld-linux)/ {printf "%s ", $1}')" \
		"$3" >>"$raw/size.tsv"
}
: >"$raw/size.tsv"
strip -o "$work/ostree-guests-generator" "$gen"
strip -o "$work/ostree-guest-start" "$helper"
size ostree-guests-generator "$work/ostree-guests-generator" "stripped copy"
size ostree-guest-start "$work/ostree-guest-start" "stripped copy"
size systemd-fstab-generator "$fstab_gen" "as packaged"
size zram-generator "$zram_gen" "as packaged"
[ -z "$quadlet" ] || size quadlet "$quadlet" "as packaged"

# ---- the machine --------------------------------------------------------------------------------
{
	echo "date=$(date -u '+%F %H:%M UTC')"
	echo "kernel=$(uname -r)"
	echo "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores"
	echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "load_start=$load_start"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "systemd=$(dpkg-query -W -f='${Version}' systemd)"
	echo "zram=$(dpkg-query -W -f='${Version}' systemd-zram-generator)"
	echo "ostree=$(dpkg-query -W -f='${Version}' ostree)"
	echo "quadlet=${quadlet:+$("$quadlet" -version) ($(basename "$deb"))}"
	echo "quadlet_note=$quadlet_note"
	echo "hyperfine=$(hyperfine --version | cut -d' ' -f2)"
	echo "rustc=$(rustc --version | cut -d' ' -f2)"
	echo "commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "rounds=$rounds"
	echo "runs=$runs"
} >"$raw/machine.txt"

benches/report.py "$raw" >"$out/results.md"
cat "$out/results.md"
log "results: $out/results.md (raw data: $raw)"
