#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Link roles end to end: a backup link carries no data while the main link
# is up and has room, takes over both ways when the main link dies, and
# the master follows the slave's backup flag; then redundant bonding sends
# every packet on both links and the receivers keep one copy.
# Usage: tests/integration/roles.sh path/to/braid
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

br_require_root
br_require_tools ip tc socat ss sha256sum awk python3

br_topology 2
br_shape 1 20mbit
br_shape 2 20mbit
br_genkey

start_pair()	# NAME EXTRA-SLAVE-SETTINGS LINK-B
{
	br_conf_master "$BR_TMP/master-$1.conf"
	BR_SLAVE_EXTRA=$2
	# b first: on equal links it would win the ties
	br_conf_slave "$BR_TMP/slave-$1.conf" "$BR_MASTER_IP:$BR_PORT" \
		"$3" "$(br_link_iface a u1)"
	br_start master "$BR_TMP/master-$1.conf" "$BR_TMP/master-$1.log"
	br_wait_tun master
	br_start slave "$BR_TMP/slave-$1.conf" "$BR_TMP/slave-$1.log"
	br_wait_tun slave
	br_slave_route_via_tun
	br_wait_links_up slave 10 a b
}

# --- 1. backup ----------------------------------------------------------------
echo
echo "== 1. link b is a backup: 300 pings, then a dies and a transfer runs"
start_pair backup "" \
	'{ name = "b"; type = "udp"; interface = "u2"; backup = true; }'
b0=$(br_ctr "$BR_NS_SLAVE" u2 tx_packets)
b0m=$(br_ctr "$BR_NS_INET" s2 tx_packets)
a0=$(br_ctr "$BR_NS_SLAVE" u1 tx_packets)
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 300 0.01) >= 295)) ||
	br_fail "pings through the tunnel were lost"
b1=$(br_ctr "$BR_NS_SLAVE" u2 tx_packets)
b1m=$(br_ctr "$BR_NS_INET" s2 tx_packets)
a1=$(br_ctr "$BR_NS_SLAVE" u1 tx_packets)
# keepalives every 0.2 s and their answers, not the 300 pings each way
echo "   u1 carried $((a1 - a0)) packets up; u2 $((b1 - b0)) up, $((b1m - b0m)) down"
((a1 - a0 >= 300 && b1 - b0 < 60 && b1m - b0m < 60)) ||
	br_fail "the backup link carried data while the main link had room"
echo "   ok: the backup link carried only keepalives"
ip -n "$BR_NS_SLAVE" link set dev u1 down
br_transfer xfer2 7102 $((4 << 20))

b2=$(br_ctr "$BR_NS_SLAVE" u2 tx_packets)
b2m=$(br_ctr "$BR_NS_INET" s2 tx_packets)
echo "   with a down: u2 carried $((b2 - b1)) packets up, $((b2m - b1m)) down"
((b2 - b1 > 2000 && b2m - b1m > 500)) ||
	br_fail "the backup link did not take over both ways"
echo "   ok: the backup took over, the transfer arrived intact"
br_stop slave
br_stop master
ip -n "$BR_NS_SLAVE" link set dev u1 up
br_uplink_routes 1

# --- 2. redundant -------------------------------------------------------------
echo
echo "== 2. bonding = \"redundant\": every packet on both links"
start_pair redundant 'bonding = "redundant";' "$(br_link_iface b u2)"
br_usr1 slave
br_usr1 master
c0=$(br_total slave copies) m0=$(br_total master copies)
d0=$(br_total master reorder_dup) s0=$(br_total slave reorder_dup)
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 300 0.01) >= 295)) ||
	br_fail "pings through the tunnel were lost"
br_usr1 slave
br_usr1 master
copies=$(($(br_total slave copies) - c0))
mcopies=$(($(br_total master copies) - m0))
dup=$(($(br_total master reorder_dup) - d0))
sdup=$(($(br_total slave reorder_dup) - s0))
echo "   300 pings: second copies sent: slave $copies, master $mcopies; dropped: master $dup, slave $sdup"
((copies >= 300 && dup >= 295)) ||
	br_fail "requests were not sent twice, or copies not dropped"
((mcopies >= 295 && sdup >= 290)) ||
	br_fail "the master did not follow redundant mode"
# bulk: a copy goes where a window has room; the data arrives intact
br_transfer xfer3 7103 $((2 << 20))
echo "   ok: both directions doubled, the transfer arrived intact"
br_stop slave
br_stop master
echo
echo "roles: ok"
