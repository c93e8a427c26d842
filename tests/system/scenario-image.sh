# shellcheck shell=bash
# In-host scenario sourced by scenarios.sh (it uses its helpers: want, scenario, verdict, await,
# guest_up, registered, in_guest, oneline, ...):
#   17  a guest from a container image: `ostree-guests create NAME --image oci:DIR:latest --now`
#       through the host's real `ostree container` (the test-only build of ostree-ext's CLI that
#       tests/lib/ostree-container.sh makes, copied into the host image, and the host's skopeo);
#       machinectl sees it; a new image under the same tag, `upgrade` restarts it on the new
#       deployment with its /var kept; `upgrade` again is up to date; `remove` drops the refs.
# The images (the Debian test guest's tree, image-version 1 and 2) are made by t3a.sh before the
# host boots: $IMG_DIR/oci (tag latest = 1) and $IMG_DIR/oci-2 (tag latest = 2).
# shellcheck disable=SC2016

IMG_DIR=/var/mnt/share/images

if want 17 && [ -d "$IMG_DIR/oci" ] && command -v skopeo >/dev/null &&
	[ -x /usr/libexec/libostree/ext/ostree-container ]; then
	scenario 17 "a guest from a container image"
	# a copy: the upgrade rewrites the tag, and the share's images stay as t3a.sh made them
	rm -rf /var/tmp/t3a-oci && cp -a "$IMG_DIR/oci" /var/tmp/t3a-oci
	t=$EPOCHREALTIME
	out=$(ostree-guests create imgg --image oci:/var/tmp/t3a-oci:latest --network none --now 2>&1)
	rc=$?
	verdict "17: create imgg --image oci:/var/tmp/t3a-oci:latest --now" \
		"rc=$rc after $(elapsed_since "$t")s: $(echo "$out" | tail -n 3 | oneline)" [ "$rc" = 0 ]
	await 90 "17: imgg is up (unit active, registered, shell answers)" guest_up imgg
	verdict "17: machinectl list shows imgg" "$(machinectl list --no-legend | awk '$1 == "imgg"' | oneline)" registered imgg
	v=$(in_guest imgg cat /usr/share/ostree-guests-test/image-version 2>&1)
	verdict "17: imgg runs image 1" "image-version $v" [ "$v" = 1 ]
	origin=$(cat "/sysroot/ostree/deploy/imgg/deploy/$(status_dep imgg).origin" 2>&1)
	verdict "17: its origin records the image reference" "$(echo "$origin" | oneline)" \
		sh -c 'printf "%s\n" "$1" | grep -qx "container-image-reference=ostree-unverified-image:oci:/var/tmp/t3a-oci:latest"' sh "$origin"
	in_guest imgg sh -c 'mkdir -p /var/lib/t3a && echo kept-17 >/var/lib/t3a/probe'

	cp -a "$IMG_DIR/oci-2/." /var/tmp/t3a-oci/ # image 2 under the same tag
	before=$(status_dep imgg)
	out=$(ostree-guests upgrade imgg 2>&1)
	rc=$?
	verdict "17: upgrade imgg deploys the new image and restarts the guest" \
		"rc=$rc: $(echo "$out" | tail -n 2 | oneline)" \
		sh -c '[ "$1" = 0 ] && printf "%s" "$2" | grep -q "(restarted)"' sh "$rc" "$out"
	after=$(status_dep imgg)
	verdict "17: a new deployment" "$before -> $after" [ "$before" != "$after" ]
	await 90 "17: imgg is up again" guest_up imgg
	verdict "17: machinectl still lists imgg" "$(machinectl list --no-legend | awk '$1 == "imgg"' | oneline)" registered imgg
	v=$(in_guest imgg cat /usr/share/ostree-guests-test/image-version 2>&1)
	verdict "17: imgg runs image 2" "image-version $v" [ "$v" = 2 ]
	p=$(in_guest imgg cat /var/lib/t3a/probe 2>&1)
	verdict "17: its /var kept what image 1 wrote" "$p" [ "$p" = kept-17 ]
	out=$(ostree-guests upgrade imgg 2>&1)
	verdict "17: upgrade again is up to date" "$(echo "$out" | tail -n 1 | oneline)" \
		sh -c 'printf "%s" "$1" | grep -q "already up to date"' sh "$out"
	out=$(ostree-guests remove imgg --purge --yes 2>&1)
	rc=$?
	refs=$(ostree --repo=/sysroot/ostree/repo refs | grep '^ostree/container/image/')
	verdict "17: remove --purge drops the guest, its stateroot and the image's refs" \
		"rc=$rc, refs: ${refs:-none}" \
		sh -c '[ "$1" = 0 ] && [ -z "$2" ] && [ ! -e /sysroot/ostree/deploy/imgg ]' sh "$rc" "$refs"
	verdict "17: and machinectl no longer lists it" "$(machinectl list --no-legend | awk '{print $1}' | oneline)" not_registered imgg
	rm -rf /var/tmp/t3a-oci
fi
