#!/bin/bash
# T2 boot test: a guest created from a container image boots, and keeps its /var across an
# image upgrade.
#
# The image is the Debian test guest (the tree of tests/lib/mk-sysroot.sh) encapsulated with the
# real `ostree container encapsulate` into a local OCI directory (no network); `ostree-guests
# create --image` pulls it with the real `ostree container image pull` (on Debian the test-only
# build of ostree-ext's CLI from tests/lib/ostree-container.sh) and deploys it; our start helper
# boots it with real systemd-nspawn. A second image under the same tag is then upgraded to.
#
# Usage (root):  tests/boot/t2-image.sh
# Env:  OSTREE_GUEST_START   helper binary (default $CARGO_TARGET_DIR or <repo>/target, debug/)
#       OSTREE_GUESTS_CLI    CLI binary (the same default); both are built with cargo when
#                            missing
#       T2_WORKDIR           scratch dir (default /dev/shm/ostree-guests-t2-image)
#       T2_BOOT_TIMEOUT      seconds to reach multi-user.target (default 120)
# Output: PASS:/FAIL: lines, TIMING: lines, and last "N passed, N failed, N skipped".
# The checks pass values to `sh -c` scripts as positional parameters: single quotes are meant.
# shellcheck disable=SC2016
set -uo pipefail

# shellcheck source=tests/lib/boot.sh
. "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/boot.sh"
# shellcheck source=tests/lib/ostree-container.sh
. "$REPO/tests/lib/ostree-container.sh"
t2_init /dev/shm/ostree-guests-t2-image
OCI=$WORK/oci
CLI=${OSTREE_GUESTS_CLI:-$T2_TARGET_DIR/debug/ostree-guests}

t2_fresh_work
mkdir -p "$OCI"
t2_need_helper
if [ ! -x "$CLI" ] && [ -z "${OSTREE_GUESTS_CLI:-}" ] && command -v cargo >/dev/null; then
	log "building the CLI: cargo build -p ostree-guests-cli"
	(cd "$REPO" && CARGO_TARGET_DIR=$T2_TARGET_DIR cargo build -q -p ostree-guests-cli) || die "cargo build failed"
fi
[ -x "$CLI" ] || die "$CLI missing: cargo build -p ostree-guests-cli, or set OSTREE_GUESTS_CLI"

t0=$EPOCHREALTIME
ensure_ostree_container >"$LOGS/ostree-container.log" 2>&1 || {
	cat "$LOGS/ostree-container.log" >&2
	die "ostree container is not available (tests/lib/ostree-container.sh)"
}
timing "ostree container ready" "$(elapsed_since "$t0")"

# the CLI on this sysroot and configuration root, as the admin would run it on the host
OG=("${helper_env[@]}" "$CLI" -q)

log "== building the sysroot (host + seed)"
t0=$EPOCHREALTIME
mk_sysroot --with-host --dir "$SYSROOT" seed >"$LOGS/mk-sysroot.log" 2>&1 || {
	cat "$LOGS/mk-sysroot.log" >&2
	die "sysroot build failed"
}
timing "sysroot build" "$(elapsed_since "$t0")"
REPO_ARG=--repo=$SYSROOT/ostree/repo
HOST_DEP=$(ostree_status_deployment "$SYSROOT" host)

log "== image 1"
t0=$EPOCHREALTIME
oci_test_image "$SYSROOT/ostree/repo" "$OCI:latest" 1 || die "making image 1 failed"
timing "commit + encapsulate image 1" "$(elapsed_since "$t0")"

t0=$EPOCHREALTIME
check "create img --image oci:DIR:latest" "${OG[@]}" create img --image "oci:$OCI:latest" --network none
timing "create --image (pull + deploy)" "$(elapsed_since "$t0")"
DEP1=$(ostree_status_deployment "$SYSROOT" img)
check "the origin records the image reference" grep -x "container-image-reference=ostree-unverified-image:oci:$OCI:latest" \
	"$SYSROOT/ostree/deploy/img/deploy/$DEP1.origin"
check "the host keeps the default boot entry" sh -c '
	d=$(ostree admin status --sysroot="$1" | sed -n 1p); echo "$d"; echo "$d" | grep -qF "host $2"' sh "$SYSROOT" "$HOST_DEP"
DRY=$(guest_dry_run img 2>&1 | sed -n 's/^deployment: *//p')
check "dry-run resolves img to the pulled deployment" sh -c 'echo "$1"; [ -n "$1" ] && [ "$1" = "$2" ]' sh "$DRY" "$DEP1"

PROBE=t2-image-$$-$RANDOM
# boot_image N: boots img, checks that its /usr is image N, then that /var carries over: image 1
# writes a file there, later images must find it.
boot_image() {
	local n=$1 what="img (image $1)"
	log "== $what"
	if ! boot_and_wait "$what" img "$LOGS/img-$n.log"; then
		kill_guest img
		return
	fi
	guest_running_checks img "$what"
	check "$what: /usr is image $n" sh -c '
		v=$(nsenter -t "$1" -a -- cat /usr/share/ostree-guests-test/image-version); echo "$v"; [ "$v" = "$2" ]' sh "${LEADER[img]}" "$n"
	if [ "$n" = 1 ]; then
		check "$what: a file written to /var lands in the stateroot's var" sh -c '
			nsenter -t "$1" -a -- sh -c "mkdir -p /var/lib/t2 && echo $3 > /var/lib/t2/probe" || exit 1
			cat "$2/ostree/deploy/img/var/lib/t2/probe"' sh "${LEADER[img]}" "$SYSROOT" "$PROBE"
	else
		check "$what: /var kept the file written under image 1" sh -c '
			v=$(nsenter -t "$1" -a -- cat /var/lib/t2/probe); echo "$v"; [ "$v" = "$2" ]' sh "${LEADER[img]}" "$PROBE"
	fi
	stop_guest img "image $n"
}

boot_image 1

log "== image 2 under the same tag, upgrade"
t0=$EPOCHREALTIME
oci_test_image "$SYSROOT/ostree/repo" "$OCI:latest" 2 || die "making image 2 failed"
timing "commit + encapsulate image 2" "$(elapsed_since "$t0")"
check "upgrade --check finds the new image (exit 0)" "${OG[@]}" upgrade img --check
t0=$EPOCHREALTIME
check "upgrade img deploys the new image" "${OG[@]}" upgrade img
timing "upgrade (pull + deploy)" "$(elapsed_since "$t0")"
DEP2=$(ostree_status_deployment "$SYSROOT" img)
check "the upgrade made a new deployment" sh -c 'echo "$1 -> $2"; [ -n "$2" ] && [ "$1" != "$2" ]' sh "$DEP1" "$DEP2"
DRY=$(guest_dry_run img 2>&1 | sed -n 's/^deployment: *//p')
check "dry-run resolves img to the new deployment" sh -c 'echo "$1"; [ -n "$1" ] && [ "$1" = "$2" ]' sh "$DRY" "$DEP2"
check "upgrade again says already up to date" sh -c 'o=$("$@"); echo "$o"; echo "$o" | grep -q "already up to date"' sh "${OG[@]}" upgrade img
check "upgrade --check then says no update (exit 77)" sh -c '"$@"; rc=$?; echo "exit $rc"; [ $rc = 77 ]' sh "${OG[@]}" upgrade img --check

boot_image 2

log "== remove"
check "remove img" "${OG[@]}" remove img
check "the image's refs are gone" sh -c '
	r=$(ostree "$1" refs | grep "^ostree/container/image/"); [ -z "$r" ] && echo none || { echo "$r"; exit 1; }' sh "$REPO_ARG"
check "the host still has the default boot entry" sh -c '
	d=$(ostree admin status --sysroot="$1" | sed -n 1p); echo "$d"; echo "$d" | grep -qF "host $2"' sh "$SYSROOT" "$HOST_DEP"
check "no mounts left on the host below $WORK" sh -c '
	m=$(findmnt -rn -o TARGET | grep -F "$1"); [ -z "$m" ] && echo none || { echo "$m"; exit 1; }' sh "$WORK"

log "== summary"
check_summary
