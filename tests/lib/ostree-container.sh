# shellcheck shell=bash
# `ostree container` for the tests, on a Debian machine (sourced, never executed).
#
#   ensure_ostree_container   makes `ostree container …` work: installs libostree-dev libzstd-dev
#                             pkg-config skopeo, builds tests/tools/ostree-container (ostree-ext's
#                             CLI) with `cargo build --release --locked` into a cache directory
#                             keyed by a hash of its Cargo.lock, its sources and `rustc -V`, and
#                             installs it as $OSTREE_CONTAINER_EXT. Prints nothing on stdout.
#   oci_test_image REPO DIR:TAG N
#                             the test guest's tree (branch ostree-guests-test/base of REPO, from
#                             tests/lib/mk-sysroot.sh) plus /usr/share/ostree-guests-test/
#                             {stateroot,image-version} = "img", N, committed on branch img-src
#                             and encapsulated with `ostree container encapsulate` as oci:DIR:TAG
#
# Debian's and Fedora's `ostree` run /usr/libexec/libostree/ext/ostree-container for the
# `container` subcommand; on Fedora that is a link to rpm-ostree, which embeds the same CLI.
# An existing file there that is not ours (Fedora's link) is left alone.
#
# Env:  OSTREE_GUESTS_CACHE   cache root (default /var/tmp/ostree-guests/cache)
#       OSTREE_CONTAINER_EXT  where to install (default /usr/libexec/libostree/ext/ostree-container)

[ -n "${_OSTREE_GUESTS_OSTREE_CONTAINER_SH:-}" ] && return 0
_OSTREE_GUESTS_OSTREE_CONTAINER_SH=1

_OSTREE_CONTAINER_LIB=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=tests/lib/common.sh
. "$_OSTREE_CONTAINER_LIB/common.sh"

: "${OSTREE_CONTAINER_EXT:=/usr/libexec/libostree/ext/ostree-container}"

# The cache key: the lock file, every source file of the tool, and the compiler.
_ostree_container_key() {
	local src=$1
	{
		rustc -V
		(cd "$src" && find Cargo.toml Cargo.lock src -type f -print0 | sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

ensure_ostree_container() {
	local src="$_OSTREE_CONTAINER_LIB/../tools/ostree-container"
	local cache=${OSTREE_GUESTS_CACHE:-/var/tmp/ostree-guests/cache}
	local key dir bin t0
	src=$(realpath "$src") || return 1
	ensure_packages libostree-dev libzstd-dev pkg-config skopeo ostree
	command -v cargo >/dev/null || { log "ensure_ostree_container: cargo is not installed"; return 1; }
	key=$(_ostree_container_key "$src") || return 1
	dir=$cache/ostree-container-$key
	bin=$dir/ostree-container
	if [ ! -x "$bin" ]; then
		t0=$EPOCHREALTIME
		log "building ostree-container (ostree-ext's CLI, test-only) into $dir; a cold build takes several minutes"
		# One build tree for all keys, so a changed source rebuilds incrementally.
		mkdir -p "$dir" "$cache/ostree-container-target" || return 1
		(cd "$src" && CARGO_TARGET_DIR="$cache/ostree-container-target" cargo build --release --locked --quiet) >&2 ||
			{ log "ensure_ostree_container: cargo build failed"; return 1; }
		install -m 0755 "$cache/ostree-container-target/release/ostree-container" "$bin.tmp" &&
			mv "$bin.tmp" "$bin" || return 1
		log "ostree-container built in $(elapsed_since "$t0")s"
	fi
	# Ours (from this or an older build) carries a marker beside it in the cache; anything else
	# there (Fedora's link to rpm-ostree, a distribution package) is used as it is.
	if { [ -e "$OSTREE_CONTAINER_EXT" ] || [ -L "$OSTREE_CONTAINER_EXT" ]; } &&
		! cmp -s "$OSTREE_CONTAINER_EXT" "$cache/ostree-container-installed"; then
		log "ensure_ostree_container: $OSTREE_CONTAINER_EXT exists and is not ours; using it"
		_ostree_container_works
		return
	fi
	install -D -m 0755 "$bin" "$OSTREE_CONTAINER_EXT" &&
		install -m 0644 "$bin" "$cache/ostree-container-installed" || return 1
	_ostree_container_works
}

# `ostree container --help` must reach the extension (ostree prints its own usage otherwise).
_ostree_container_works() {
	local out
	out=$(ostree container --help 2>&1) || { log "ostree container --help failed: $out"; return 1; }
	case $out in
	*encapsulate*) return 0 ;;
	*) log "ostree container --help did not reach the extension: $out"; return 1 ;;
	esac
}

oci_test_image() {
	local repo=$1 dest=$2 n=$3 ovl
	ovl=$(mktemp -d "${OSTREE_GUESTS_SCRATCH:-/dev/shm}/.oci-test-image.XXXXXX") || return 1
	mkdir -p "$ovl/usr/share/ostree-guests-test" "$ovl/usr/etc"
	chmod -R 0755 "$ovl"
	echo img >"$ovl/usr/share/ostree-guests-test/stateroot"
	echo img >"$ovl/usr/etc/hostname"
	echo "$n" >"$ovl/usr/share/ostree-guests-test/image-version"
	ostree --repo="$repo" commit --branch=img-src --tree=ref=ostree-guests-test/base --tree=dir="$ovl" \
		--subject="image $n" --add-metadata-string=version="img-$n" >/dev/null || { rm -rf "$ovl"; return 1; }
	rm -rf "$ovl"
	ostree container encapsulate --repo="$repo" img-src "oci:$dest" >/dev/null
}
