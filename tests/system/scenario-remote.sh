# shellcheck shell=bash
# In-host scenarios sourced by scenarios.sh (they use its helpers: want, scenario, verdict,
# await, guest_up, in_guest, oneline, ...):
#   15  the README's first guest: the remote fedora-iot added as the README says (URL and key
#       path pointing at the test's own signed repository, served on 127.0.0.1), then
#       `ostree-guests create NAME --ref fedora-iot:fedora/stable/x86_64/iot --now`; a ref
#       signed by an untrusted key is refused and leaves nothing behind
#   16  a running guest switched between user-namespaced and privileged: status says "restart
#       to apply" until the unit is restarted; disable/enable switch its autostart link
# The repository and key come from tests/system/remote-repo.sh, made before the host booted.
# shellcheck disable=SC2016,SC2012

REMOTE_DIR=/var/mnt/share/remote
REMOTE_PORT=8418

# The guest's stateroot must not be there, nor its config, nor the remote, when we start.
remote_clean() {
	ostree-guests remove iot --purge --yes >/dev/null 2>&1
	ostree remote delete --if-exists fedora-iot >/dev/null 2>&1
	rm -f "$CONF/iot2.toml"
	[ -n "${HTTPD_PID:-}" ] && kill "$HTTPD_PID" 2>/dev/null
	HTTPD_PID=
}

if want 15 && [ -d "$REMOTE_DIR/repo" ]; then
	scenario 15 "the README's first guest from a signed remote"
	busybox httpd -f -p "127.0.0.1:$REMOTE_PORT" -h "$REMOTE_DIR" &
	HTTPD_PID=$!
	await 10 "15: busybox httpd serves the repository" \
		bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' bash "$REMOTE_PORT"
	# The README's line for a host of another variant, with the URL and the key path of the test's
	# repository (no mirrorlist: there is one server).
	out=$(ostree remote add --if-not-exists --set=gpg-verify=true --set=gpgkeypath="$REMOTE_DIR/key.asc" \
		fedora-iot "http://127.0.0.1:$REMOTE_PORT/repo" 2>&1)
	verdict "15: ostree remote add fedora-iot as the README shows" "$(echo "$out" | oneline)" \
		sh -c 'ostree remote list | grep -qx fedora-iot'
	t=$EPOCHREALTIME
	out=$(ostree-guests create iot --ref fedora-iot:fedora/stable/x86_64/iot --now 2>&1)
	rc=$?
	verdict "15: create iot --ref fedora-iot:fedora/stable/x86_64/iot --now" \
		"rc=$rc after $(elapsed_since "$t")s: $(echo "$out" | tail -n 3 | oneline)" [ "$rc" = 0 ]
	await 90 "15: the guest from the remote is up (unit active, registered, shell answers)" guest_up iot &&
		pass "15: the guest from the remote is up" "$(prop iot ActiveState), leader $(leader iot)"
	verdict "15: its deployment is the signed commit (version t3a-iot-1)" \
		"$("$START" --dry-run iot 2>&1 | grep -E '^(deployment|version):' | oneline)" \
		sh -c '"$1" --dry-run iot | grep -qx "version: t3a-iot-1"' sh "$START"
	deploys_before=$(ls /sysroot/ostree/deploy)
	out=$(ostree-guests create iot2 --ref fedora-iot:fedora/devel/x86_64/iot 2>&1)
	rc=$?
	verdict "15: a ref signed by a key the host does not trust is refused (96, ostree's GPG message)" \
		"rc=$rc: $(echo "$out" | grep -iE 'gpg|signature|sign' | head -n 2 | oneline)" \
		sh -c '[ "$1" = 96 ] && printf "%s" "$2" | grep -qiE "gpg|signature"' sh "$rc" "$out"
	verdict "15: ... and leaves no stateroot and no configuration behind" \
		"deploy/: $(ls /sysroot/ostree/deploy | oneline)" \
		sh -c '[ "$(ls /sysroot/ostree/deploy)" = "$1" ] && [ ! -e "$2/iot2.toml" ]' sh "$deploys_before" "$CONF"
fi

if want 16 && registered iot; then
	scenario 16 "privileged or not: restart to apply"
	# privileged_fields: the two JSON fields, e.g. "privileged":false "runningPrivileged":false
	privileged_fields() { ostree-guests status iot --json 2>/dev/null | tr -d ' \n' | grep -oE '"(privileged|runningPrivileged)":[a-z]+' | sort | oneline; }
	fields=$(privileged_fields)
	verdict "16: a default guest runs user-namespaced" "$fields" \
		[ "$fields" = '"privileged":false "runningPrivileged":false' ]
	mkdir -p "$CONF/iot.toml.d"
	printf '[security]\nprivate-users = "no"\n' >"$CONF/iot.toml.d/90-t3a.toml"
	systemctl daemon-reload
	out=$(ostree-guests status iot 2>&1)
	verdict "16: after the switch, status says restart to apply" "$(echo "$out" | grep -i 'restart to apply' | oneline)" \
		sh -c 'printf "%s" "$1" | grep -q "running user-namespaced, configuration says privileged: restart to apply"' sh "$out"
	systemctl restart "$(unit iot)"
	await 90 "16: the guest is back after the restart" guest_up iot
	out=$(ostree-guests status iot 2>&1)
	fields=$(privileged_fields)
	verdict "16: after the restart it runs privileged and status has nothing to apply" "$fields" \
		sh -c '[ "$1" = "\"privileged\":true \"runningPrivileged\":true" ] && ! printf "%s" "$2" | grep -q "restart to apply"' sh "$fields" "$out"
	rm -rf "$CONF/iot.toml.d"
	systemctl daemon-reload
	out=$(ostree-guests status iot 2>&1)
	verdict "16: and the reverse switch is reported too" "$(echo "$out" | grep -i 'restart to apply' | oneline)" \
		sh -c 'printf "%s" "$1" | grep -q "running privileged, configuration says user-namespaced: restart to apply"' sh "$out"
	# enable/disable: autostart through a drop-in, and the reload done for the admin
	wants=/run/systemd/generator/machines.target.wants/$(unit iot)
	before=$(sha256sum "$CONF/iot.toml" | cut -c1-16)
	out=$(ostree-guests disable iot 2>&1)
	verdict "16: disable iot drops the autostart link (reloaded), main file untouched" \
		"$(echo "$out" | oneline); link: $([ -e "$wants" ] && echo present || echo gone)" \
		sh -c '[ ! -e "$1" ] && [ -f "$2/iot.toml.d/50-autostart.toml" ] && [ "$(sha256sum "$2/iot.toml" | cut -c1-16)" = "$3" ]' \
		sh "$wants" "$CONF" "$before"
	out=$(ostree-guests enable iot 2>&1)
	verdict "16: enable iot brings the autostart link back" \
		"$(echo "$out" | oneline); link: $([ -e "$wants" ] && echo present || echo gone)" [ -L "$wants" ]
fi
want 15 && remote_clean
