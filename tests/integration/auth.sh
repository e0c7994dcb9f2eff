#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The master answers nothing that does not authenticate: with a relay that
# flips one bit in every datagram, or a slave with the wrong key, no datagram
# comes back; with an honest relay and the right key the tunnel works.
# Usage: tests/integration/auth.sh path/to/braid path/to/udpflip
set -euo pipefail

if [[ $# -lt 2 || ! -x $1 || ! -x $2 ]]; then
	echo "usage: $0 BRAID-BINARY UDPFLIP-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
FLIP_BIN=$(realpath "$2")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

RELAY=198.18.1.1:6000	# udpflip in inet, on the slave's side
SECS=3			# traffic per case

br_require_root
br_require_tools ip ss tcpdump awk python3

# run_case NAME pass|flip right|wrong: one master/relay/slave run with pings
# through the tunnel. Sets FORWARDED REPLIES PINGS CAPTURED AUTH_FAIL
# MALFORMED.
run_case()
{
	local name=$1 mode=$2 keyk=$3 dir=$BR_TMP/$1 key tcpd flip out
	mkdir -p "$dir"

	br_conf_master "$dir/master.conf"
	br_start master "$dir/master.conf" "$dir/master.log"
	br_wait_tun master

	# Every UDP datagram the master sends from its port, on any interface.
	# Its status lines and one line per packet share tcpdump.out.
	br_bg "$BR_NS_MASTER" "$dir/tcpdump.out" timeout 60 tcpdump -i any -n -l \
		"udp and src port $BR_PORT"
	tcpd=$BR_LASTPID
	br_wait_for 5 grep -q 'listening on' "$dir/tcpdump.out" ||
		br_fail "$name: tcpdump did not start: $(cat "$dir/tcpdump.out")"

	br_bg "$BR_NS_INET" "$dir/udpflip.out" "$FLIP_BIN" "$RELAY" \
		"$BR_MASTER_IP:$BR_PORT" "$mode"
	flip=$BR_LASTPID
	br_wait_listen "$BR_NS_INET" udp "${RELAY##*:}"

	key=$BR_KEY
	if [[ $keyk == wrong ]]; then
		key=$("$BR_BIN" genkey)
	fi
	BR_KEY=$key br_conf_slave "$dir/slave.conf" "$RELAY" "$(br_link_iface a u1)"
	br_start slave "$dir/slave.conf" "$dir/slave.log"
	br_wait_tun slave
	if [[ $mode == pass && $keyk == right ]]; then
		br_wait_links_up slave 5 a
	fi

	PINGS=$(br_ping "$BR_NS_SLAVE" "$BR_TUN_MASTER" $((SECS * 5)) 0.2)

	br_stop slave
	br_kill "$flip"
	((BR_WAIT_RC == 0)) || br_fail "$name: udpflip exited $BR_WAIT_RC"
	out=$(grep -E '^forwarded=' "$dir/udpflip.out" || true)
	[[ -n $out ]] || br_fail "$name: udpflip printed no counts:" \
		"$(cat "$dir/udpflip.out")"
	FORWARDED=$(sed -E 's/forwarded=([0-9]+).*/\1/' <<<"$out")
	REPLIES=$(sed -E 's/.*replies=([0-9]+).*/\1/' <<<"$out")
	br_stop master
	br_kill "$tcpd"
	CAPTURED=$(grep -cE ' IP6? ' "$dir/tcpdump.out" || true)
	AUTH_FAIL=$(br_total master auth_fail)
	AUTH_FAIL=${AUTH_FAIL:-missing}
	MALFORMED=$(br_total master malformed)
	MALFORMED=${MALFORMED:-missing}
	HS_BAD=$(br_total master hs_bad)
	HS_BAD=${HS_BAD:-missing}

	printf '   relay: forwarded=%s replies=%s; pings answered: %s/%s\n' \
		"$FORWARDED" "$REPLIES" "$PINGS" $((SECS * 5))
	printf '   master: sent %s packet(s) (tcpdump); exit stats auth_fail=%s malformed=%s hs_bad=%s\n' \
		"$CAPTURED" "$AUTH_FAIL" "$MALFORMED" "$HS_BAD"
	for role in slave master; do
		((BR_RC[$role] == 0)) ||
			br_fail "$name: braid $role exited with status ${BR_RC[$role]}"
	done
	((FORWARDED > 0)) || br_fail "$name: the slave sent nothing through the relay"
}

br_topology 1
br_genkey

echo
echo "== (a) honest relay, right key (control)"
run_case a pass right
((REPLIES > 0)) || br_fail "(a) no reply through an honest relay: setup broken"
((PINGS > 0)) || br_fail "(a) no ping answered through the tunnel"
((CAPTURED > 0)) || br_fail "(a) tcpdump saw no packet from the master: capture broken"
echo "   ok: replies > 0, tunnel answers ping, capture sees the master"

echo
echo "== (b) relay flips one bit in every datagram, right key"
run_case b flip right
((REPLIES == 0)) || br_fail "(b) master answered $REPLIES corrupted datagram(s)"
((CAPTURED == 0)) || br_fail "(b) tcpdump saw the master send $CAPTURED packet(s)"
# With no session possible, everything the slave sends is a handshake
# initiation: each corrupted one must be refused and counted, whatever bit
# was hit (header: malformed; body or MAC: hs_bad).
for v in "$AUTH_FAIL" "$MALFORMED" "$HS_BAD"; do
	[[ $v =~ ^[0-9]+$ ]] || br_fail "(b) master's exit stats lack counters"
done
((AUTH_FAIL + MALFORMED + HS_BAD == FORWARDED)) ||
	br_fail "(b) $FORWARDED corrupted datagrams, but only $((AUTH_FAIL + MALFORMED + HS_BAD)) counted as refused"
echo "   ok: nothing answered; all $FORWARDED corrupted datagrams counted as refused"

echo
echo "== (c) honest relay, slave with a wrong key"
run_case c pass wrong
((REPLIES == 0)) || br_fail "(c) master answered $REPLIES datagram(s) under a wrong key"
((HS_BAD > 0)) || br_fail "(c) the master counted no bad handshake (hs_bad=$HS_BAD)"
echo "   ok: nothing answered; hs_bad=$HS_BAD"

echo
echo "PASS: auth ($(br_elapsed)s)"
