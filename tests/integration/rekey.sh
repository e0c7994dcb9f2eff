#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Keys change under a running transfer with zero loss: with rekey = 1 s the
# slave runs a new handshake every second while a TCP transfer and a UDP
# stream go through the tunnel; every packet is accepted under old or new
# keys (no replay, authentication or unknown-session drops), the UDP stream
# loses nothing, the TCP transfer arrives intact.
# Usage: tests/integration/rekey.sh path/to/braid
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

RATE=20mbit
SIZE=$((20 << 20))

br_require_root
br_require_tools ip tc socat iperf3 sha256sum awk python3

br_topology 2
br_shape 1 "$RATE"
br_shape 2 "$RATE"
br_genkey
br_conf_master "$BR_TMP/master.conf"
BR_SLAVE_EXTRA='rekey = 1;'
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface a u1)" "$(br_link_iface b u2)"
br_start_pair a b

echo
echo "== TCP: $((SIZE >> 20)) MiB slave -> srv while the keys change every second"
br_transfer xfer 7301 "$SIZE"
echo "   arrived intact in ${BR_XFER_SECS}s"

echo
echo "== UDP: 8 Mbit/s for 10 s srv -> slave (iperf3 -R), keys changing"
br_bg "$BR_NS_SRV" "$BR_TMP/iperf-s.log" iperf3 -s -B "$BR_SRV_IP"
br_wait_listen "$BR_NS_SRV" tcp 5201
out=$(br_in "$BR_NS_SLAVE" iperf3 -c "$BR_SRV_IP" -u -b 8M -t 10 -R -l 1200)
line=$(grep -E 'receiver' <<<"$out" | tail -n 1)
echo "   $line"
lost=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, a, "/"); print a[1] } }' <<<"$line")
total=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, a, "/"); print a[2] } }' <<<"$line")
[[ -n $lost && -n $total ]] || br_fail "cannot read iperf3's loss from: $line"
((total > 0)) || br_fail "iperf3 sent no datagrams"
((lost == 0)) || br_fail "$lost of $total UDP datagrams lost across rekeys"
echo "   ok: 0 of $total datagrams lost"

br_usr1 slave
br_usr1 master
hs=$(br_total slave hs_init)
echo
echo "== counters (slave, master)"
for role in slave master; do
	printf '   %s: hs_init=%s replay=%s auth_fail=%s stale_session=%s malformed=%s\n' \
		"$role" "$(br_total "$role" hs_init)" "$(br_total "$role" replay)" \
		"$(br_total "$role" auth_fail)" "$(br_total "$role" stale_session)" \
		"$(br_total "$role" malformed)"
	for k in replay auth_fail stale_session malformed; do
		v=$(br_total "$role" "$k")
		((v == 0)) || br_fail "$role dropped $v packet(s) as $k during rekeys"
	done
done
((hs >= 10)) || br_fail "only $hs handshakes in the slave's run (want >= 10)"
echo "   ok: $hs handshakes, not one packet refused"

br_stop_pair
echo
echo "PASS: rekey ($(br_elapsed)s)"
