#!/bin/bash
# Prints the path of an nmcli that can parse NetworkManager keyfiles offline, for the keyfile
# tests. It is unpacked from Debian's network-manager and libnm0 packages into the cache: the
# package is never installed, because installing it would let NetworkManager take over this
# machine's interfaces. Needs: apt-get (download only), dpkg-deb, and the shared libraries nmcli
# and libnm link (installed here when missing: a minimal Debian lacks readline and glib).
set -euo pipefail
# shellcheck source=tests/lib/common.sh
source "$(dirname "$(realpath "$0")")/common.sh"
cache=${OSTREE_GUESTS_CACHE:-/var/tmp/ostree-guests/cache}/nmcli
wrapper=$cache/nmcli
if [ ! -x "$wrapper" ]; then
	rm -rf "$cache"
	mkdir -p "$cache/debs" "$cache/root"
	(cd "$cache/debs" && apt-get download network-manager libnm0 >/dev/null 2>&1) || {
		apt-get update -qq >/dev/null && (cd "$cache/debs" && apt-get download network-manager libnm0 >/dev/null)
	} || die "could not download network-manager and libnm0"
	for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
	cat >"$wrapper.tmp" <<WRAP
#!/bin/sh
LD_LIBRARY_PATH=$cache/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu) exec $cache/root/usr/bin/nmcli "\$@"
WRAP
	chmod +x "$wrapper.tmp"
	mv "$wrapper.tmp" "$wrapper"
fi
# the NEEDED entries of nmcli and libnm.so.0 outside the unpacked packages
[ "$(id -u)" = 0 ] && ensure_packages libglib2.0-0 libreadline8 libgnutls30 libudev1
"$wrapper" --version >/dev/null 2>&1 || die "$wrapper does not run: $("$wrapper" --version 2>&1 | head -n 3)"
echo "$wrapper"
