# shellcheck shell=bash
# A signed OSTree HTTP remote for the in-host scenario "first guest from a remote"
# (tests/system/scenario-remote.sh), made OUTSIDE the test host, where gpg is installed, and
# served inside it from the share by busybox httpd on 127.0.0.1.
#
#   make_signed_remote DIR SYSROOT
#     DIR/repo      an archive repository with the refs Fedora IoT publishes on its remote
#                   fedora-iot: fedora/stable/x86_64/iot, signed with a test key made here, and
#                   fedora/devel/x86_64/iot, signed with a second key the host does not trust
#     DIR/key.asc   the trusted key's public half (what /etc/pki/rpm-gpg/ holds on Fedora)
#   Both commits carry the tree of SYSROOT's guest base commit (ostree-guests-test/base), so
#   the guest boots like the others, and the pull fetches only the new commit's metadata: its
#   objects are in the host's repository already.
# Sourced by t3a.sh (needs tests/lib/common.sh for ensure_packages and log).

make_signed_remote() {
	local dir=$1 sysroot=$2 homes=() h key keys=() t0=$EPOCHREALTIME
	ensure_packages gnupg
	rm -rf "$dir"
	mkdir -p "$dir"
	for h in trusted untrusted; do
		homes+=("$(mktemp -d "$dir/.gnupg-$h.XXXXXX")")
		gpg --homedir "${homes[-1]}" --batch --quiet --passphrase '' \
			--quick-gen-key "ostree-guests test remote, $h <t3a@example.invalid>" ed25519 sign 1d ||
			return 1
		key=$(gpg --homedir "${homes[-1]}" --list-keys --with-colons | awk -F: '$1 == "fpr" {print $10; exit}')
		[ -n "$key" ] || return 1
		keys+=("$key")
	done
	gpg --homedir "${homes[0]}" --armor --export "${keys[0]}" >"$dir/key.asc" || return 1
	ostree --repo="$dir/repo" init --mode=archive &&
		ostree --repo="$dir/repo" pull-local "$sysroot/ostree/repo" ostree-guests-test/base >/dev/null ||
		return 1
	ostree --repo="$dir/repo" commit -b fedora/stable/x86_64/iot --tree=ref=ostree-guests-test/base \
		--add-metadata-string=version=t3a-iot-1 -s "T3a: a Fedora IoT stand-in" \
		--gpg-sign="${keys[0]}" --gpg-homedir="${homes[0]}" >/dev/null &&
		ostree --repo="$dir/repo" commit -b fedora/devel/x86_64/iot --tree=ref=ostree-guests-test/base \
			-s "T3a: signed by a key the host does not trust" \
			--gpg-sign="${keys[1]}" --gpg-homedir="${homes[1]}" >/dev/null &&
		ostree --repo="$dir/repo" refs --delete ostree-guests-test/base &&
		ostree --repo="$dir/repo" summary -u || return 1
	# gpg-agent would outlive the test otherwise
	for h in "${homes[@]}"; do
		gpgconf --homedir "$h" --kill gpg-agent 2>/dev/null
		rm -rf "$h"
	done
	log "remote-repo: signed remote at $dir ($(elapsed_since "$t0")s)"
}
