# shellcheck shell=bash
# Scenario 14 of tests/system/scenarios.sh (sourced there; its helpers and counters are in scope):
# a NetworkManager host, i.e. the T3 VM booted with systemd-networkd masked. The VM's NIC sits on
# QEMU's user network, whose DHCP server leases an address to every MAC that asks.
#   * br0 declared with its uplink matched by MAC: our keyfiles in /run make NetworkManager build
#     it, move the uplink under it and run DHCP on it;
#   * a bridged guest gets its own lease on that LAN and the host reaches it;
#   * a veth guest gets an address on ve-NAME and reaches the host (networkd's stock
#     80-container-ve.network does that on networkd hosts; on NetworkManager hosts we do);
#   * a zone guest is refused with a message that says why (zones are a networkd feature).
# shellcheck disable=SC2016,SC2012
UPLINK_MAC=52:54:00:12:34:56
verdict "NetworkManager runs and systemd-networkd does not" \
	"NetworkManager $(systemctl is-active NetworkManager.service), networkd $(systemctl is-active systemd-networkd.service)" \
	sh -c 'systemctl is-active -q NetworkManager.service && ! systemctl is-active -q systemd-networkd.service'
uplink=$(ip -o link | awk -v m="$UPLINK_MAC" '$0 ~ "link/ether " m {sub(":$", "", $2); print $2; exit}')
info "uplink by MAC $UPLINK_MAC: ${uplink:-none}"

cat >"$CONF/br0.bridge.toml" <<EOF2
# the VM's NIC, by MAC; DHCP on the bridge (the default)
uplinks = ["mac:$UPLINK_MAC"]
EOF2
printf '[network]\nmode = "bridge"\nbridge = "br0"\n' >"$CONF/netb.toml"
printf '[network]\nmode = "veth"\n' >"$CONF/netv.toml"
printf '[network]\nmode = "zone"\nzone = "tz"\n' >"$CONF/netz.toml"
chmod 0644 "$CONF"/*.toml
systemctl daemon-reload
systemctl restart ostree-guests-network.service
res=$(systemctl show -p Result --value ostree-guests-network.service)
verdict "the network unit wrote NetworkManager keyfiles into /run" \
	"$res; $(ls /run/NetworkManager/system-connections/ 2>&1 | oneline)" \
	sh -c '[ "$1" = success ] && ls /run/NetworkManager/system-connections/ | grep -q br0' sh "$res"
verdict "nothing was written to /etc/NetworkManager" \
	"$(find /etc/NetworkManager -newer /var/mnt/share/tier.env -type f 2>&1 | oneline)" \
	test -z "$(find /etc/NetworkManager -newer /var/mnt/share/tier.env -type f 2>/dev/null)"
wait_for 90 sh -c 'ip -4 -o addr show dev br0 | grep -q "inet 10\.0\.2\."'
br_ip=$(ip -4 -o addr show dev br0 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
verdict "NetworkManager built br0 from our keyfile and it got a DHCP lease" \
	"br0 ${br_ip:-none}; $(nmcli -t -f NAME,DEVICE connection show --active 2>&1 | oneline)" \
	sh -c 'case "$1" in 10.0.2.*) ;; *) exit 1 ;; esac' sh "$br_ip"
verdict "the uplink matched by MAC is a port of br0" "$(ip -o link show dev "${uplink:-none}" 2>&1 | oneline | cut -c1-160)" \
	sh -c 'ip -o link show dev "$1" | grep -q "master br0"' sh "${uplink:-none}"
br_mac=$(cat /sys/class/net/br0/address 2>/dev/null)

timeout "$(tmo 120)" systemctl start "$(unit netb)" "$(unit netv)"
for g in netb netv; do wait_for 90 guest_up "$g"; done
await 60 "the bridged guest netb has an IPv4 address" has_v4 netb
ipb=$(guest_v4 netb)
verdict "the bridged guest got its own lease on the uplink's LAN" "host0 ${ipb:-none}, host br0 ${br_ip:-none}" \
	sh -c 'case "$1" in 10.0.2.*) [ "$1" != "$2" ] ;; *) exit 1 ;; esac' sh "$ipb" "$br_ip"
verdict "br0 kept its pinned MAC when the guest's port joined" "$br_mac -> $(cat /sys/class/net/br0/address)" \
	sh -c '[ -n "$1" ] && [ "$1" = "$(cat /sys/class/net/br0/address)" ] && [ "$1" != "$2" ]' sh "$br_mac" "$UPLINK_MAC"
in_guest netb setsid systemd-socket-activate -l 7001 --inetd -a /bin/echo pong </dev/null >/dev/null 2>&1 &
sleep 1
out=$(timeout "$(tmo 5)" bash -c 'exec 3<>"/dev/tcp/$0/7001" && head -n1 <&3' "$ipb" 2>/dev/null)
verdict "the host reaches the bridged guest over br0" "tcp $ipb:7001 answered '${out:-nothing}'" test "$out" = pong

await 60 "the veth guest netv has an IPv4 address" has_v4 netv
ipv=$(guest_v4 netv)
gw=$(in_guest netv ip -4 route show default 2>/dev/null | awk '{print $3; exit}')
verdict "NetworkManager manages the host side of the veth guest" \
	"$(nmcli -t -f DEVICE,STATE,CONNECTION device status 2>&1 | grep '^ve-' | oneline); ve-netv $(ip -4 -o addr show dev ve-netv 2>&1 | awk '{print $4}')" \
	sh -c 'nmcli -t -f DEVICE,STATE device status | grep -q "^ve-netv:connected"'
setsid systemd-socket-activate -l 0.0.0.0:7002 --inetd -a /bin/echo pong </dev/null >/dev/null 2>&1 &
sleep 1
out=$(in_guest netv timeout "$(tmo 5)" bash -c 'exec 3<>"/dev/tcp/$0/7002" && head -n1 <&3' "${gw:-none}" 2>&1)
verdict "a veth guest gets an address and reaches the host" "guest ${ipv:-none} -> gateway ${gw:-none}:7002 answered '${out:-nothing}'" \
	test "$out" = pong

timeout "$(tmo 60)" systemctl start "$(unit netz)"
sleep 1
st=$(systemctl status "$(unit netz)" 2>&1)
verdict "a zone guest is refused on a NetworkManager host, saying why" "$(grep -i -m1 zone <<<"$st" | oneline)" \
	sh -c '! systemctl is-active -q systemd-nspawn@netz.service && echo "$1" | grep -qi "zone.*networkd\|networkd.*zone"' sh "$st"

kill_listeners
timeout "$(tmo 120)" systemctl stop "$(unit netb)" "$(unit netv)" "$(unit netz)"
