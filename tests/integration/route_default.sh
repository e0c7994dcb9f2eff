#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# route_default end to end: a home host whose slave routes everything
# through the tunnel reaches an internet host by way of the VPS (NAT by
# examples/vps-nat.sh from the master's on_up/on_down), braid's own link
# packets keep leaving through the uplinks, and the home host's rules and
# routes are exactly as before once the slave exits, also after a SIGKILL
# and a restart.
# Usage: tests/integration/route_default.sh path/to/braid
#
#  home ─ u1 198.18.1.2 ══ h 198.18.1.1 ─ up1 ─ w 198.18.11.2 ══ r1 198.18.11.1 ─┐
#  home ─ u2 198.18.2.2 ══ h 198.18.2.1 ─ up2 ─ w 198.18.12.2 ══ r2 198.18.12.1 ─┤
#                           vps ─ wan 198.18.0.2 ══ m0 198.18.0.1 ─────────────── inet
#                       ihost ─ eth0 198.18.100.2 ══ h0 198.18.100.1 ─────────────┘
#
# home's main table: default via u1 (metric 100) and via u2 (metric 200).
# Link a is bound to nothing (it follows main's default out of u1, which
# only its fwmark lets it do), link b to interface u2. Tunnel 10.77.0.0/24.
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
NAT=$(realpath "$HERE/../../examples/vps-nat.sh")
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

br_require_root
br_require_tools ip nft tcpdump socat ss sha256sum awk diff
[[ -x $NAT ]] || br_fail "$NAT is not executable"

NS_HOME="${BR_PFX}home"
NS_UP1="${BR_PFX}up1"
NS_UP2="${BR_PFX}up2"
NS_VPS="${BR_PFX}vps"
NS_IHOST="${BR_PFX}ihost"
# lib.sh's helpers (br_start, br_transfer, ...) by their names
BR_NS_SLAVE=$NS_HOME
BR_NS_MASTER=$NS_VPS
BR_NS_SRV=$NS_IHOST
BR_SRV_IP=198.18.100.2
IHOST=$BR_SRV_IP
MARK=0x6272
TABLE=25202
PREF=25200

# --- topology -------------------------------------------------------------------
br_ns_add "$NS_HOME"
br_ns_add "$NS_UP1"
br_ns_add "$NS_UP2"
br_ns_add "$BR_NS_INET"
br_ns_add "$NS_VPS"
br_ns_add "$NS_IHOST"
for i in 1 2; do
	ns=${BR_PFX}up$i
	br_veth "$NS_HOME" "u$i" "198.18.$i.2/24" "$ns" h "198.18.$i.1/24"
	br_veth "$ns" w "198.18.1$i.2/24" "$BR_NS_INET" "r$i" "198.18.1$i.1/24"
	br_in "$ns" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$ns" route add default via "198.18.1$i.1" dev w
	ip -n "$BR_NS_INET" route add "198.18.$i.0/24" via "198.18.1$i.2" dev "r$i"
	ip -n "$NS_HOME" route add default via "198.18.$i.1" dev "u$i" \
		metric $((100 * i))
done
br_in "$BR_NS_INET" sysctl -qw net.ipv4.ip_forward=1
br_veth "$NS_VPS" wan "$BR_MASTER_IP/24" "$BR_NS_INET" m0 198.18.0.1/24
ip -n "$NS_VPS" route add default via 198.18.0.1 dev wan
br_veth "$NS_IHOST" eth0 "$IHOST/24" "$BR_NS_INET" h0 198.18.100.1/24
ip -n "$NS_IHOST" route add default via 198.18.100.1 dev eth0
br_log "topology up: namespaces ${BR_PFX}{home,up1,up2,inet,vps,ihost}"

# --- helpers --------------------------------------------------------------------

# Every rule and route of both families in NS.
net_state()
{
	local f
	for f in -4 -6; do
		echo "== ip $f rule"
		ip -n "$1" "$f" rule show
		echo "== ip $f route show table all"
		ip -n "$1" "$f" route show table all
	done
}

no_tentative()	# NS: no IPv6 address still in duplicate address detection
{
	[[ -z $(ip -n "$1" -6 addr show tentative) ]]
}

# net_state once it stops changing (an IPv6 link-local address, and its
# local route, come a second or two after a device is up).
net_state_settled()
{
	local a b i
	br_wait_for 10 no_tentative "$1" ||
		br_fail "IPv6 addresses in $1 still tentative after 10 s"
	a=$(net_state "$1")
	for ((i = 0; i < 40; i++)); do
		sleep 0.25
		b=$(net_state "$1")
		if [[ $a == "$b" ]]; then
			printf '%s\n' "$a"
			return 0
		fi
		a=$b
	done
	br_fail "routes and rules in $1 keep changing"
}

# same_state WHAT FILE-BEFORE: home's rules and routes are as in the file.
same_state()
{
	local now=$BR_TMP/state-now
	net_state_settled "$NS_HOME" >"$now"
	diff -u "$2" "$now" >&2 ||
		br_fail "$1: home's rules and routes differ from before braid ran"
	br_log "$1: home's rules and routes ($(wc -l <"$2") lines) are as before"
}

# How many of home's family (-4, -6) rules are at PREF.
rules_at()
{
	ip -n "$NS_HOME" "$1" rule show | grep -c "^$2:" || true
}

# The policy is in place once: both rules per family, the defaults.
policy_present()
{
	local f r rules
	for f in -4 -6; do
		rules=$(ip -n "$NS_HOME" "$f" rule show)
		(($(rules_at "$f" "$PREF") == 1 && $(rules_at "$f" $((PREF + 1))) == 1)) ||
			br_fail "ip $f rule: not one rule each at $PREF and" \
				"$((PREF + 1)): $rules"
		grep -q "^$PREF:.*lookup main suppress_prefixlength 0" <<<"$rules" ||
			br_fail "ip $f rule: no suppress rule at $PREF"
		grep -q "^$((PREF + 1)):.*not from all fwmark $MARK lookup $TABLE" \
			<<<"$rules" ||
			br_fail "ip $f rule: no 'not fwmark $MARK lookup $TABLE'"
		r=$(ip -n "$NS_HOME" "$f" route show table "$TABLE")
		[[ $(wc -l <<<"$r") -eq 1 && $r == "default dev $BR_TUN "* ]] ||
			br_fail "ip $f route show table $TABLE: '$r'," \
				"not one default route through $BR_TUN"
	done
}

# The address the internet host sees a TCP connection from home come from.
peer_seen()
{
	br_in "$NS_HOME" socat -T 5 -u TCP:"$IHOST":7201,connect-timeout=5 - ||
		br_fail "no TCP connection from home to the internet host"
}

# cap_start NAME DEV: tcpdump on home's DEV (braid's port and the test's
# TCP ports) into NAME.pcap; its pid in CAP[NAME].
declare -A CAP=()
cap_start()
{
	local name=$1 dev=$2 out=$BR_TMP/$1.tcpdump
	br_bg "$NS_HOME" "$out" tcpdump -Z root -n -U -B 16384 -s 128 -i "$dev" \
		-w "$BR_TMP/$name.pcap" "udp port $BR_PORT or tcp portrange 7200-7201"
	CAP[$name]=$BR_LASTPID
	br_wait_for 5 grep -q "listening on" "$out" ||
		br_fail "tcpdump on $dev did not start: $(cat "$out")"
}

cap_stop()	# NAME
{
	br_kill "${CAP[$1]}" INT
}

cap_count()	# NAME FILTER
{
	tcpdump -n -r "$BR_TMP/$1.pcap" "$2" 2>/dev/null | wc -l
}

br_genkey
# shellcheck disable=SC2016
br_bg "$NS_IHOST" "$BR_TMP/peer.out" socat \
	"TCP-LISTEN:7201,bind=$IHOST,reuseaddr,fork" 'SYSTEM:echo $SOCAT_PEERADDR'
br_wait_listen "$NS_IHOST" tcp 7201
before=$BR_TMP/state-before
net_state_settled "$NS_HOME" >"$before"
seen=$(peer_seen)
[[ $seen == 198.18.1.2 ]] ||
	br_fail "without braid the internet host saw home as '$seen', not 198.18.1.2"
br_log "without braid: home reaches the internet host directly (seen as $seen)"

# --- master with NAT by on_up / on_down -------------------------------------------
br_conf_master "$BR_TMP/master.conf" \
	"on_up = \"$NAT up\";" "on_down = \"$NAT down\";"
br_start master "$BR_TMP/master.conf"
br_wait_tun master
br_wait_for 5 br_in "$NS_VPS" nft list table inet braid >/dev/null 2>&1 ||
	br_fail "on_up did not load the nftables table braid"
[[ $(br_in "$NS_VPS" sysctl -n net.ipv4.ip_forward) == 1 ]] ||
	br_fail "on_up did not turn forwarding on in the VPS"
br_log "master up; on_up loaded table inet braid and turned forwarding on"

# --- slave with route_default -------------------------------------------------------
start_slave()	# LOG
{
	br_start slave "$BR_TMP/slave.conf" "$1"
	br_wait_tun slave
	br_wait_links_up slave 10 a b
	br_wait_for 5 br_log_has "$1" "all traffic through $BR_TUN" ||
		br_fail "the slave did not say it routes all traffic through $BR_TUN"
}

# from before the slave starts: the scheduler may leave a link to its
# handshake and keepalives while the transfer runs
cap_start u1 u1
cap_start u2 u2
BR_SLAVE_EXTRA='route_default = true;'
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	'{ name = "a"; type = "udp"; }' "$(br_link_iface b u2)"
start_slave "$BR_TMP/slave.log"
policy_present
br_log "slave up: rules at $PREF/$((PREF + 1)) and table $TABLE's defaults (IPv4 and IPv6)"

echo
echo "== 1. TCP from home to the internet host goes through the tunnel"
r=$(ip -n "$NS_HOME" route get "$IHOST")
[[ $r == *"dev $BR_TUN table $TABLE src $BR_TUN_SLAVE"* ]] ||
	br_fail "route to $IHOST: '$r', not through $BR_TUN from $BR_TUN_SLAVE"
r=$(ip -n "$NS_HOME" route get "$BR_MASTER_IP" mark "$MARK")
[[ $r == *"dev u1 "* ]] ||
	br_fail "marked route to the master: '$r', not through u1"
echo "   route get: $IHOST through $BR_TUN; with mark $MARK the master through u1"

cap_start tun "$BR_TUN"
m_rx0=$(br_ctr "$NS_VPS" "$BR_TUN" rx_packets)
m_tx0=$(br_ctr "$NS_VPS" "$BR_TUN" tx_packets)
seen=$(peer_seen)
[[ $seen == "$BR_MASTER_IP" ]] ||
	br_fail "through the tunnel the internet host saw home as '$seen'," \
		"not the VPS ($BR_MASTER_IP)"
echo "   the internet host sees the connection come from the VPS ($seen)"
SIZE=$((4 << 20))
br_transfer xfer 7200 "$SIZE"
m_rx=$(($(br_ctr "$NS_VPS" "$BR_TUN" rx_packets) - m_rx0))
m_tx=$(($(br_ctr "$NS_VPS" "$BR_TUN" tx_packets) - m_tx0))
echo "   master's $BR_TUN: $m_rx packets in from the slave, $m_tx out to it"
((m_rx >= SIZE / 1500 && m_tx >= 100)) ||
	br_fail "the transfer did not pass the master's $BR_TUN"
cap_stop u1
cap_stop u2
cap_stop tun

echo
echo "== 2. braid's link packets leave through the uplinks, none into the tunnel"
to_master="udp and dst host $BR_MASTER_IP and dst port $BR_PORT"
n1=$(cap_count u1 "$to_master")
n2=$(cap_count u2 "$to_master")
t1=$(cap_count u1 "tcp")
t2=$(cap_count u2 "tcp")
tu=$(cap_count tun "udp")
tt=$(cap_count tun "tcp and dst host $IHOST")
echo "   u1: $n1 link packets to the master, $t1 TCP; u2: $n2 and $t2;" \
	"$BR_TUN: $tt TCP to the internet host, $tu UDP on braid's port"
((n1 > 0 && n2 > 0)) ||
	br_fail "the link packets did not leave through both uplinks"
# (tcpdump may miss some of a fast transfer's packets: half will do)
((n1 + n2 > SIZE / 3000)) ||
	br_fail "the transfer's link packets did not leave through the uplinks"
((t1 == 0 && t2 == 0)) || br_fail "TCP went around the tunnel"
((tt > SIZE / 3000)) || br_fail "the transfer did not enter $BR_TUN"
((tu == 0)) || br_fail "braid's own packets went into $BR_TUN (a loop)"

echo
echo "== 3. SIGTERM: home's rules and routes are as before"
br_stop slave
((BR_RC[slave] == 0)) || br_fail "the slave exited with status ${BR_RC[slave]}"
same_state "after SIGTERM" "$before"

echo
echo "== 4. SIGKILL: the keeper cleans up; both killed: a restart does"
start_slave "$BR_TMP/slave2.log"
br_kill "${BR_DPID[slave]}" KILL
br_log "slave killed (SIGKILL), its keeper left running"
br_wait_for 5 bash -c "(( \$(ip -n '$NS_HOME' -4 rule show | grep -c '^$((PREF + 1)):') == 0 ))" ||
	br_fail "the keeper did not remove the killed slave's rules"
same_state "after SIGKILL of the daemon alone" "$before"
echo "   the keeper removed the killed slave's rules and routes"
start_slave "$BR_TMP/slave2b.log"
keeper=$(pgrep -P "${BR_DPID[slave]}" || true)
[[ -n $keeper ]] || br_fail "no keeper process under the slave"
kill -KILL "$keeper" "${BR_DPID[slave]}"
br_wait_pid "${BR_DPID[slave]}" 5 || br_fail "the killed slave is still there"
br_log "slave and keeper killed (SIGKILL), as a whole service killed at once"
(($(rules_at -4 $((PREF + 1))) == 1 && $(rules_at -6 $((PREF + 1))) == 1)) ||
	br_fail "no rules left behind by the killed slave and keeper: nothing to test"
echo "   slave and keeper killed together left the rules behind"
start_slave "$BR_TMP/slave3.log"
policy_present
echo "   restarted: its rules and routes once each, not twice"
seen=$(peer_seen)
[[ $seen == "$BR_MASTER_IP" ]] ||
	br_fail "after the restart the internet host saw home as '$seen'"
br_transfer xfer2 7200 $((1 << 20))
br_stop slave
((BR_RC[slave] == 0)) || br_fail "the slave exited with status ${BR_RC[slave]}"
same_state "after SIGKILL, restart and SIGTERM" "$before"
seen=$(peer_seen)
[[ $seen == 198.18.1.2 ]] ||
	br_fail "after braid the internet host saw home as '$seen', not 198.18.1.2"

br_stop master
((BR_RC[master] == 0)) || br_fail "the master exited with status ${BR_RC[master]}"
if br_in "$NS_VPS" nft list table inet braid >/dev/null 2>&1; then
	br_fail "on_down did not remove the nftables table braid"
fi
br_log "master stopped; on_down removed table inet braid"
echo
echo "PASS: route_default"
