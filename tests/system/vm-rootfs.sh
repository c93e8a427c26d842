#!/bin/bash
# Cached Debian root filesystem for the T3 VM HOST: the T3a host (host-rootfs.sh) plus what a
# machine that boots on its own needs, set up the way Fedora Atomic boots:
#   * a Debian kernel, its modules and an initramfs made by dracut with ostree's module
#     (ostree-boot: ostree-prepare-root.service turns the physical root into the deployment
#     named by the ostree= karg, as Fedora's initramfs does), all in /usr/lib/modules/KVER/
#     where `ostree admin deploy` finds them (vmlinuz, initramfs.img). The same recipe on
#     HOST_SUITE=trixie: ostree-boot 2025.2 still ships /usr/lib/dracut/modules.d/98ostree, for
#     dracut 106 (dracut-ng); its ostree-prepare-root writes the GVariant /run/ostree-booted;
#   * NetworkManager (with dnsmasq-base for its shared mode) beside systemd-networkd: the VM
#     test boots once per network stack and masks the other on the kernel command line.
#
# As a script:  tests/system/vm-rootfs.sh      -> prints the tarball path (builds it if missing)
# As a library: source it, then  tar=$(vm_rootfs_tar)
#
# Two cache layers under $OSTREE_GUESTS_CACHE: the debootstrap (vmbase-KEY.tar, cached_debootstrap)
# and the tree with kernel and initramfs (vmhost-KEY.tar, KEY = the base tarball's name and
# VM_APT_PACKAGES; bump VM_ROOTFS_VERSION when the recipe below changes).
# Env: OSTREE_GUESTS_CACHE, MIRROR, OSTREE_GUESTS_SCRATCH (see tests/lib/guest-rootfs.sh)

_VM_ROOTFS_DIR=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/system/host-rootfs.sh
. "$_VM_ROOTFS_DIR/host-rootfs.sh"

VM_ROOTFS_VERSION=ostree-guests-t3-vm-rootfs-1
# dracut instead of initramfs-tools (Fedora's initramfs generator; ostree ships a dracut module);
# the kernel is installed in a second step: debootstrap would pull initramfs-tools for it.
: "${VM_PACKAGES:=$HOST_PACKAGES,dracut,dracut-core,ostree-boot,iputils-ping}"
# Installed by apt in the chroot, with the kernel: polkitd (for NetworkManager) fails to configure
# inside debootstrap. dnsmasq-base serves DHCP for NetworkManager's shared mode. python3-gi: GLib's
# own GVariant parser reads the real /run/ostree-booted in the VM scenario (an oracle independent
# of our reader).
: "${VM_APT_PACKAGES:=linux-image-amd64 network-manager dnsmasq-base nftables iptables python3-gi}"

vm_base_args() { printf '%s\n' vmbase "$HOST_SUITE" "$HOST_VARIANT" "$VM_PACKAGES" "$VM_ROOTFS_VERSION"; }

vm_rootfs_path() {
	local a key
	mapfile -t a < <(vm_base_args)
	key=$({ basename "$(debootstrap_tar_path "${a[@]}")"; echo "$VM_APT_PACKAGES"; } | sha256sum | cut -c1-12)
	printf '%s/vmhost-%s.tar\n' "$OSTREE_GUESTS_CACHE" "$key"
}

# _vm_tree ROOT LOG BASE: the builder (cached_tree) of the VM host tree: the debootstrap tarball
# BASE, then VM_APT_PACKAGES installed with apt inside it (a private mount namespace holds /proc,
# /sys, /dev for the chroot), the ostree-aware initramfs built, and kernel and initramfs put where
# ostree looks for them.
_vm_tree() {
	local root=$1 logf=$2 base=$3 kver listing
	tar -C "$root" --numeric-owner --xattrs -xf "$base" || return 1
	log "vm rootfs: kernel and dracut initramfs with ostree-prepare-root (a few minutes)"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# no daemons start inside the chroot
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2016 # expanded by the unshare'd shell
	unshare -m --propagation private sh -ec '
		root=$1 pkgs=$2
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		chroot "$root" sh -ec "
			export DEBIAN_FRONTEND=noninteractive
			apt-get -qq update
			apt-get -qq -y install --no-install-recommends $pkgs >/dev/null
			kver=\$(ls /usr/lib/modules | head -n 1)
			# --no-hostonly: the initramfs must not depend on the build machine
			# systemd: ostree-prepare-root.service is a systemd unit of the initramfs
			dracut --quiet --force --no-hostonly --add \"systemd ostree\" --kver \"\$kver\" \
				/usr/lib/modules/\$kver/initramfs.img
			cp /boot/vmlinuz-\$kver /usr/lib/modules/\$kver/vmlinuz
			rm -rf /boot/*
		"
	' sh "$root" "$VM_APT_PACKAGES" >"$logf" 2>&1 || return 1
	rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
	kver=$(ls "$root/usr/lib/modules")
	if [ ! -s "$root/usr/lib/modules/$kver/vmlinuz" ] || [ ! -s "$root/usr/lib/modules/$kver/initramfs.img" ]; then
		log "no kernel or initramfs in $root/usr/lib/modules/$kver"
		return 1
	fi
	# the initramfs must carry ostree-prepare-root, or the VM would boot the physical root
	listing=$(lsinitrd "$root/usr/lib/modules/$kver/initramfs.img" 2>&1)
	grep -q 'initrd-root-fs.target.wants/ostree-prepare-root.service' <<<"$listing" ||
		{ log "dracut left ostree-prepare-root out of the initramfs"; return 1; }
}

# Print the tarball path; build it (and the debootstrap under it) when it is not cached.
vm_rootfs_tar() {
	local tar base='' a
	tar=$(vm_rootfs_path)
	if [ ! -s "$tar" ]; then
		mapfile -t a < <(vm_base_args)
		base=$(cached_debootstrap "${a[@]}") || return 1
		ensure_packages dracut-core # lsinitrd, to check the result
	fi
	cached_tree "$tar" vmhost _vm_tree "$base"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	vm_rootfs_tar
fi
