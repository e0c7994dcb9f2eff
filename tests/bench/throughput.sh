#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: TCP throughput through braid over ONE unconstrained uplink
# (veth, no tbf), each way, next to the same path without the tunnel.
# Prints figures; passes or fails nothing. Usage (root):
#   tests/bench/throughput.sh [build/braid] [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BR_BIN=$(realpath "${1:-$ROOT/build/braid}")
SECS=${2:-10}
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
br_require_root
br_require_tools ip iperf3 awk

# iperf_rate NS DST [flags]: receiver-side Mbit/s of a SECS-second TCP run.
iperf_rate()
{
	local ns=$1 dst=$2
	shift 2
	br_in "$ns" iperf3 -c "$dst" -t "$SECS" -f m "$@" |
		awk '/receiver/ { print $(NF-2) }'
}

br_topology 1
br_genkey
br_conf_master "$BR_TMP/master.conf"
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface up1 u1)"
br_start_pair up1
br_bg "$BR_NS_SRV" "$BR_TMP/iperf-srv.log" iperf3 -s -B "$BR_SRV_IP"
br_bg "$BR_NS_MASTER" "$BR_TMP/iperf-wan.log" iperf3 -s -B "$BR_MASTER_IP"
br_wait_listen "$BR_NS_SRV" tcp 5201
br_wait_listen "$BR_NS_MASTER" tcp 5201

raw_up=$(iperf_rate "$BR_NS_SLAVE" "$BR_MASTER_IP")
raw_down=$(iperf_rate "$BR_NS_SLAVE" "$BR_MASTER_IP" -R)
tun_up=$(iperf_rate "$BR_NS_SLAVE" "$BR_SRV_IP")
tun_down=$(iperf_rate "$BR_NS_SLAVE" "$BR_SRV_IP" -R)
br_usr1 slave

printf '\nbraid throughput, one unconstrained veth uplink, %s s TCP (iperf3), %s cores\n' \
	"$SECS" "$(nproc)"
printf '  %-28s %10s %10s\n' path "up Mbit/s" "down Mbit/s"
printf '  %-28s %10s %10s\n' "without tunnel (slave->VPS)" "$raw_up" "$raw_down"
printf '  %-28s %10s %10s\n' "through braid (slave->srv)" "$tun_up" "$tun_down"
br_print_stats slave
