#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bonding over two rate-limited uplinks: a transfer arrives intact, both
# uplinks carry a real share, a transfer survives one uplink dying, and both
# daemons shut down cleanly leaving nothing behind.
# Usage: tests/integration/bond.sh path/to/braid
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
BR_TUN_V6=1
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

RATE=20mbit		# per uplink, both directions
SIZE=$((20 << 20))	# bytes per transfer (20 MiB)
MIN_SHARE=25		# % of the transferred bytes each uplink must carry

br_require_root
br_require_tools ip tc socat ss sha256sum awk python3


# Anything of the tunnel left in namespace NS, one line each.
leftovers()
{
	local ns=$1 fam
	if ip -n "$ns" link show dev "$BR_TUN" >/dev/null 2>&1; then
		echo "device $BR_TUN still exists"
	fi
	for fam in -4 -6; do
		ip -n "$ns" "$fam" addr show | grep -E '10\.77\.|fd77:|braid' |
			sed "s/^/addr$fam: /" || true
		ip -n "$ns" "$fam" route show table all |
			grep -E '10\.77\.|fd77:|braid' | sed "s/^/route$fam: /" || true
		ip -n "$ns" "$fam" rule show | grep -E '10\.77\.|fd77:|braid' |
			sed "s/^/rule$fam: /" || true
	done
}

# --- set-up -----------------------------------------------------------------
br_topology 2
br_shape 1 "$RATE"
br_shape 2 "$RATE"
br_genkey
br_conf_master "$BR_TMP/master.conf"
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface a u1)" "$(br_link_bind b 198.18.2.2)"
br_start_pair a b
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 3) > 0)) ||
	br_fail "no ping reply from srv ($BR_SRV_IP) through the tunnel"
br_log "srv answers ping through the tunnel"

# After set-up both daemons run as nobody, with two capabilities left.
nobody=$(id -u nobody)
for role in master slave; do
	st=/proc/${BR_DPID[$role]}/status
	uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")
	[[ $uids == "$nobody $nobody $nobody $nobody" ]] ||
		br_fail "braid $role runs with uids $uids, want $nobody (nobody)"
	caps=$(awk '/^CapEff:/ { print $2 }' "$st")
	# CAP_NET_ADMIN (12) and CAP_NET_RAW (13) only
	[[ $caps == 0000000000003000 ]] ||
		br_fail "braid $role has effective capabilities $caps"
	echo "   braid $role: Uid $uids (nobody), CapEff $caps (net_admin, net_raw)"
done

# --- 1 + 2: integrity, throughput, share per uplink ---------------------------
echo
echo "== 1. $((SIZE >> 20)) MiB TCP transfer slave -> srv over uplinks a (u1, interface) + b (u2, bind), $RATE each"
u1_0=$(br_ctr "$BR_NS_SLAVE" u1 tx_bytes)
u2_0=$(br_ctr "$BR_NS_SLAVE" u2 tx_bytes)
br_usr1 slave
a_0=$(br_stat slave a tx_bytes)
b_0=$(br_stat slave b tx_bytes)
br_transfer xfer1 7001 "$SIZE"
u1=$(($(br_ctr "$BR_NS_SLAVE" u1 tx_bytes) - u1_0))
u2=$(($(br_ctr "$BR_NS_SLAVE" u2 tx_bytes) - u2_0))
br_usr1 slave
a=$(($(br_stat slave a tx_bytes) - ${a_0:-0}))
b=$(($(br_stat slave b tx_bytes) - ${b_0:-0}))
awk -v s="$SIZE" -v t="$BR_XFER_SECS" 'BEGIN {
	printf "   throughput: %.2f MB/s (%.1f Mbit/s) for %d bytes in %.2f s\n",
		s / t / 1e6, s * 8 / t / 1e6, s, t }'
# the transfer went with compressed headers (its checksum matched above),
# its ACKs came back compressed too, and nothing failed to be rebuilt
br_usr1 master
hc=$(br_total slave hc_tx) hc_rx=$(br_total master hc_rx)
acks=$(br_total master hc_tx) acks_rx=$(br_total slave hc_rx)
echo "   headers: slave compressed $hc (saved $(br_total slave hc_saved) bytes), master rebuilt $hc_rx, dropped $(br_total master hc_drop); ACKs back: master compressed $acks, slave rebuilt $acks_rx, dropped $(br_total slave hc_drop)"
((hc >= SIZE / 1400 * 9 / 10 && hc_rx >= hc * 99 / 100)) ||
	br_fail "$hc of about $((SIZE / 1348)) data packets compressed, $hc_rx rebuilt"
((acks > 0 && acks_rx >= acks * 99 / 100)) ||
	br_fail "$acks ACKs compressed, $acks_rx rebuilt"
(($(br_total master hc_drop) == 0 && $(br_total slave hc_drop) == 0)) ||
	br_fail "compressed packets dropped: master $(br_total master hc_drop), slave $(br_total slave hc_drop)"

echo
echo "== 2. share of the transfer per uplink (slave veth tx bytes; braid link tx_bytes)"
for l in "a u1 $u1 $a" "b u2 $u2 $b"; do
	read -r name dev veth wire <<<"$l"
	awk -v n="$name" -v d="$dev" -v v="$veth" -v w="$wire" -v s="$SIZE" 'BEGIN {
		printf "   link %s (%s): veth %d bytes = %.1f%% of transfer; braid tx_bytes %d\n",
			n, d, v, 100 * v / s, w }'
done
for l in "u1 $u1" "u2 $u2"; do
	read -r dev veth <<<"$l"
	((veth * 100 >= SIZE * MIN_SHARE)) ||
		br_fail "uplink $dev carried $veth bytes, under $MIN_SHARE% of $SIZE"
done
echo "   ok: each uplink carried >= $MIN_SHARE%"

# --- 3: failover ----------------------------------------------------------------
echo
echo "== 3. $((SIZE >> 20)) MiB transfer with u1 set down 2 s in"
down0=$(br_log_count "${BR_LOG[slave]}" 'link a \(id [0-9]+\) down')
u2_0=$(br_ctr "$BR_NS_SLAVE" u2 tx_bytes)
br_transfer xfer2 7002 "$SIZE" "ip -n $BR_NS_SLAVE link set dev u1 down"
u2=$(($(br_ctr "$BR_NS_SLAVE" u2 tx_bytes) - u2_0))
awk -v s="$SIZE" -v t="$BR_XFER_SECS" -v u="$u2" 'BEGIN {
	printf "   completed: %.2f MB/s average, u2 carried %.1f MB\n",
		s / t / 1e6, u / 1e6 }'
(($(br_log_count "${BR_LOG[slave]}" 'link a \(id [0-9]+\) down') > down0)) ||
	br_fail "slave never logged 'link a (id N) down' after u1 went down"
echo "   slave: $(grep -Eo 'link a \(id [0-9]+\) down.*' "${BR_LOG[slave]}" | tail -n 1)"
if br_log_has "${BR_LOG[master]}" '\(id [0-9]+\) down'; then
	echo "   master: $(grep -Eo 'link .* \(id [0-9]+\) down.*' "${BR_LOG[master]}" | tail -n 1)"
fi

# Link a must come back by itself when u1 does.
ip -n "$BR_NS_SLAVE" link set dev u1 up
br_wait_for 3 br_uplink_routes 1 2>/dev/null || true
br_wait_link slave a up 10 2 ||
	br_fail "link a did not come back within 10 s of u1 returning"
echo "   u1 back up: link a rejoined"

# --- 3b: the uplink's address changes (DHCP renewal, modem reconnect) ---------
echo
echo "== 3b. u1 renumbered 198.18.1.2 -> 198.18.1.3 while braid runs"
downs=$(br_log_count "${BR_LOG[slave]}" 'link a \(id [0-9]+\) down')
ip -n "$BR_NS_SLAVE" addr del 198.18.1.2/24 dev u1
ip -n "$BR_NS_SLAVE" addr add 198.18.1.3/24 dev u1
ip -n "$BR_NS_SLAVE" route replace 198.18.0.0/24 via 198.18.1.1 dev u1 metric 100
t0=$EPOCHREALTIME
# Back means: the master sends link a's packets to the new address, and
# the slave has the link up (it may never have gone down, if the new socket
# answered within the dead time).
a_moved()
{
	br_usr1 master
	br_usr1 slave
	[[ $(br_stat master a peer) == 198.18.1.3:* &&
		$(br_stat slave a state) == up ]]
}
br_wait_for 15 a_moved ||
	br_fail "link a not back 15 s after u1 changed address (no restart allowed; master has it at $(br_stat master a peer), slave says $(br_stat slave a state))"
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" -v d="$(($(br_log_count "${BR_LOG[slave]}" 'link a \(id [0-9]+\) down') - downs))" \
	'BEGIN { printf "   link a back up %.1f s after the change (%d down event(s)); master followed it\n", b - a, d }'
echo "   master: link a now at $(br_stat master a peer)"
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 3) > 0)) ||
	br_fail "no ping through the tunnel after the renumbering"

# --- 4: clean shutdown ----------------------------------------------------------
echo
echo "== 4. SIGTERM to both daemons"
br_stop_pair
echo "   slave exit stats:"
br_print_stats slave
echo "   master exit stats:"
br_print_stats master
for role in slave master; do
	left=$(leftovers "$(br_ns_of "$role")")
	[[ -z $left ]] || br_fail "$role namespace still has after exit: $left"
done
echo "   ok: both exited 0; no $BR_TUN, 10.77.x or fd77:: address, route or rule left"

echo
echo "PASS: bond ($(br_elapsed)s)"
