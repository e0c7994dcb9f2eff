#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (prints figures): a link with a rate cap. One 20 Mbit/s uplink,
# 20 ms one way; the braid link capped at CAP (default 18mbit, under the
# uplink's rate with braid's overhead). One TCP flow slave -> srv for SECS,
# once with a deep uplink buffer (100 ms) and once with a shallow one
# (5 ms, like a policer): prints goodput, the packets the slave resent,
# the link's loss and the holes the master gave up. A capped link is
# paced, so the shallow buffer should cost (next to) nothing.
# Usage (root): tests/bench/ratecap.sh [build-dir] [SECS]
# Environment: CAP (a rate as in braid.conf), BENCH_CC=cubic|bbr|reno.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(realpath "${1:-$ROOT/build}")
SECS=${2:-10}
CAP=${CAP:-18mbit}
# shellcheck source=tests/bench/links.sh
. "$ROOT/tests/bench/links.sh"
br_require_tools ip iperf3 socat awk

# one upload with the uplink's buffer at $1 ms; counters as differences
run_one()
{
	local out r0 l0
	bench_ctl 1 "both queue $1"
	br_usr1 slave
	br_usr1 master
	r0=$(br_stat slave up resent)
	l0=$(br_total master reorder_lost)
	out=$(br_in "$BR_NS_SLAVE" iperf3 -c "$BR_SRV_IP" -t "$SECS" -f m \
		${BENCH_CC:+-C "$BENCH_CC"})
	br_usr1 slave
	br_usr1 master
	printf '  %3s ms buffer: goodput %6.2f Mbit/s  resent %s  loss %s %%  holes given up %s\n' \
		"$1" "$(awk '/receiver/ { print $(NF-2) }' <<<"$out")" \
		$(( $(br_stat slave up resent) - r0 )) \
		"$(br_stat slave up loss_pct)" \
		$(( $(br_total master reorder_lost) - l0 ))
}

bench_links "20mbit 20 0" >/dev/null
br_genkey
br_bg "$BR_NS_SRV" "$BR_TMP/iperf-s.log" iperf3 -s -B "$BR_SRV_IP"
br_wait_listen "$BR_NS_SRV" tcp 5201
br_conf_master "$BR_TMP/master.conf" ""
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"{ name = \"up\"; type = \"udp\"; interface = \"u1\"; rate = \"$CAP\"; }"
br_start master "$BR_TMP/master.conf" "$BR_TMP/master.log" >/dev/null
br_wait_tun master
br_start slave "$BR_TMP/slave.conf" "$BR_TMP/slave.log" >/dev/null
br_wait_tun slave
br_slave_route_via_tun
br_wait_links_up slave 15 up >/dev/null
sleep 1
cc=${BENCH_CC:-$(br_in "$BR_NS_SLAVE" sysctl -n net.ipv4.tcp_congestion_control)}
echo "braid rate-cap benchmark: one 20 Mbit/s uplink, 20 ms one way, link capped at $CAP; $SECS s upload, TCP $cc"
run_one 100
run_one 5
br_stop slave >/dev/null
br_stop master >/dev/null
