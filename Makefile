# Build and install ostree-guests. The RPM spec and the system tests use this same target.
#   make                 build release binaries
#   make install DESTDIR=/tmp/root [PREFIX=/usr]
# The generator writes /usr/libexec/ostree-guests/ostree-guest-start into every drop-in, so
# PREFIX other than /usr only suits staging trees, not a running system.

PREFIX ?= /usr
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
LIBEXECDIR ?= $(PREFIX)/libexec
GENERATORDIR ?= $(PREFIX)/lib/systemd/system-generators
VENDORCONFDIR ?= $(PREFIX)/lib/ostree-guests.d
DOCDIR ?= $(PREFIX)/share/doc/ostree-guests
MANDIR ?= $(PREFIX)/share/man
CARGO ?= cargo
CARGOFLAGS ?= --locked
# Where `make build` leaves the binaries: cargo's target directory, which CARGO_TARGET_DIR
# moves (the RPM spec passes TARGETDIR for its own profile).
TARGETDIR ?= $(or $(CARGO_TARGET_DIR),target)/release
# Fedora's %{bash_completions_dir}, %{zsh_completions_dir}, %{fish_completions_dir}.
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

UNITDIR ?= $(PREFIX)/lib/systemd/system

all: build

build:
	$(CARGO) build --release $(CARGOFLAGS) -p ostree-guests-generator -p ostree-guests-helpers -p ostree-guests-cli

install:
	test -x $(TARGETDIR)/ostree-guests-generator -a -x $(TARGETDIR)/ostree-guest-start -a -x $(TARGETDIR)/ostree-guests-network -a -x $(TARGETDIR)/ostree-guests || $(MAKE) build
	install -D -m 0755 $(TARGETDIR)/ostree-guests $(DESTDIR)$(BINDIR)/ostree-guests
	install -d -m 0755 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(TARGETDIR)/ostree-guests completions bash >$(DESTDIR)$(BASHCOMPDIR)/ostree-guests
	$(TARGETDIR)/ostree-guests completions zsh >$(DESTDIR)$(ZSHCOMPDIR)/_ostree-guests
	$(TARGETDIR)/ostree-guests completions fish >$(DESTDIR)$(FISHCOMPDIR)/ostree-guests.fish
	install -D -m 0755 $(TARGETDIR)/ostree-guests-generator $(DESTDIR)$(GENERATORDIR)/ostree-guests-generator
	install -D -m 0755 $(TARGETDIR)/ostree-guest-start $(DESTDIR)$(LIBEXECDIR)/ostree-guests/ostree-guest-start
	install -D -m 0755 $(TARGETDIR)/ostree-guests-network $(DESTDIR)$(LIBEXECDIR)/ostree-guests/ostree-guests-network
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	install -m 0644 units/ostree-guests-network.service units/ostree-guests-auto-update.service units/ostree-guests-auto-update.timer $(DESTDIR)$(UNITDIR)/
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/ostree-guests.d $(DESTDIR)$(VENDORCONFDIR)
	install -d -m 0755 $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 conf.d/*.toml $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	for s in 1 5 8; do install -d -m 0755 $(DESTDIR)$(MANDIR)/man$$s && install -m 0644 docs/man/*.$$s $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done

check:
	tests/run

.PHONY: all build install check
