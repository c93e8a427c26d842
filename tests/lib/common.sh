# shellcheck shell=bash
# Shared helpers for the ostree-guests shell test harness (sourced, never executed).
#
#   log MSG...            timestamped log line on stderr ([  12.3s] relative to harness start)
#   die MSG...            log and exit 1
#   need_root             exit unless running as root
#   ensure_packages PKG.. apt-get install only the missing packages (apt-get update once first)
#   debian_mirror         print the Debian archive URI from the apt sources (env MIRROR wins)
#   pass WHAT SAW / fail WHAT SAW / skip WHAT WHY / check WHAT CMD... / check_summary
#                         PASS/FAIL/SKIP lines, counters, final "N passed, N failed, N skipped"
#   remove_tree DIR       chattr -i on OSTree deployment roots below DIR, then rm -rf DIR
#                         (refuses when something is mounted below DIR)
#   elapsed_since T0 [T1] seconds (1 decimal) from a $EPOCHREALTIME value to T1 (default: now)

[ -n "${_OSTREE_GUESTS_COMMON_SH:-}" ] && return 0
_OSTREE_GUESTS_COMMON_SH=1

: "${OSTREE_GUESTS_T0:=$EPOCHREALTIME}"
export OSTREE_GUESTS_T0

elapsed_since() {
	local t0=${1:-$OSTREE_GUESTS_T0} now=${2:-$EPOCHREALTIME}
	# bash arithmetic on microseconds: no bc/awk needed
	local us=$((${now/./} - ${t0/./}))
	printf '%d.%d' $((us / 1000000)) $(((us % 1000000) / 100000))
}

log() { printf '[%7ss] %s\n' "$(elapsed_since "$OSTREE_GUESTS_T0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (needs mounts, namespaces, ostree admin)"
}

_OSTREE_GUESTS_APT_UPDATED=0
ensure_packages() {
	local missing=() p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || st=
		[ "$st" = "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing missing packages: ${missing[*]}"
	if [ "$_OSTREE_GUESTS_APT_UPDATED" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null ||
			die "apt-get update failed"
		_OSTREE_GUESTS_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -qq -y install --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}

debian_mirror() {
	if [ -n "${MIRROR:-}" ]; then
		printf '%s\n' "$MIRROR"
		return 0
	fi
	local m f
	# deb822 sources first; skip the security archive, it has no "bookworm" suite
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		m=$(awk 'tolower($1)=="uris:" && $2 !~ /security/ {print $2; exit}' "$f")
		[ -n "$m" ] && break
	done
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk '$1=="deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {if ($i !~ /security/) {print $i; exit}; break}}' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || { log "no Debian mirror found in the apt sources; set MIRROR"; return 1; }
	printf '%s\n' "$m"
}

# ---- PASS/FAIL accounting --------------------------------------------------
N_PASS=0
N_FAIL=0
N_SKIP=0
FAILED_CHECKS=()
pass() { N_PASS=$((N_PASS + 1)); printf 'PASS: %s (%s)\n' "$1" "${2:-}"; }
fail() { N_FAIL=$((N_FAIL + 1)); FAILED_CHECKS+=("$1"); printf 'FAIL: %s (%s)\n' "$1" "${2:-}"; }
# a check that could not run here is neither passed nor failed: it is counted and says why
skip() { N_SKIP=$((N_SKIP + 1)); printf 'SKIP: %s (%s)\n' "$1" "${2:-}"; }
# check WHAT CMD...: PASS when CMD succeeds; what CMD printed (one line) is the "saw" part.
# Returns CMD's status, so that `check … || more_diagnostics` works (callers under set -e: `|| :`).
check() {
	local what=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	out=$(printf '%s' "$out" | tr '\n' ' ' | sed 's/ *$//' | cut -c1-300)
	if [ $rc -eq 0 ]; then pass "$what" "$out"; else fail "$what" "rc=$rc: $out"; fi
	return $rc
}
check_summary() {
	printf '%d passed, %d failed, %d skipped\n' "$N_PASS" "$N_FAIL" "$N_SKIP"
	[ "$N_FAIL" -eq 0 ]
}

# ---- cleanup ----------------------------------------------------------------
# Deployment roots carry the immutable flag (ostree sets chattr +i): rm -rf fails without chattr -i.
clear_immutable() {
	local d
	for d in "$1"/ostree/deploy/*/deploy/*/; do
		[ -d "$d" ] && chattr -i "$d" 2>/dev/null
	done
	return 0
}

remove_tree() {
	local dir=$1
	if [ -z "$dir" ] || [ "$dir" = / ]; then die "remove_tree: refusing '$dir'"; fi
	[ -e "$dir" ] || return 0
	dir=$(realpath -- "$dir")
	# never rm -rf through a live mount (a bind of the sysroot would delete it twice, or worse)
	if findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d) == 1' | grep -q .; then
		log "remove_tree: mounts below $dir, not removing:"
		findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d) == 1' >&2
		return 1
	fi
	clear_immutable "$dir"
	[ -d "$dir/sysroot" ] && clear_immutable "$dir/sysroot"
	rm -rf --one-file-system -- "$dir"
}
