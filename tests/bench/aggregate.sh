#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (prints figures, passes or fails nothing): does one TCP flow
# get the sum of the links? Three links of 8, 20 and 12 Mbit/s with one-way
# delays of 10, 40 and 25 ms and 0.5 % loss on the third; one TCP flow for
# SECS each way through the tunnel, for each scheduler. Prints goodput,
# efficiency (goodput / sum of link rates), also from 3 s on (TCP's
# start-up left out) and as a share of what the per-packet overhead
# allows, each link's share, RTT through the tunnel idle and under load,
# the receiver's goodput each second, the reorder counters, the sender's
# resends, what the sender's queue dropped and how many segments TCP sent
# again.
# Usage (root): tests/bench/aggregate.sh [build-dir] [SECS]
# Environment: BENCH_CC=cubic|bbr|reno (the flow's TCP congestion control;
# default: the system's), BENCH_SCHEDS="earliest equalized roundrobin",
# BENCH_QUEUE=MS (each uplink's buffer, as time at its rate; default 100),
# BENCH_BASELINE=0 (leave out the baseline: one TCP flow over the second
# link, 20 Mbit/s, alone, no tunnel, which shows what TCP itself gets of a
# link),
# BENCH_DELAYS="D1 D2 D3" (the links' one-way delays in ms instead of
# 10 40 25; "40 40 40" is a master far away on every link), BENCH_LOSS3=P
# (the third link's loss in % instead of 0.5), BENCH_RATES="R1 R2 R3" (the
# links' rates in Mbit/s instead of 8 20 12, all different; "200 20 12" is
# a fast line next to slower ones), BENCH_HC=0 (header_compression = false
# on both sides).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(realpath "${1:-$ROOT/build}")
SECS=${2:-20}
# shellcheck source=tests/bench/links.sh
. "$ROOT/tests/bench/links.sh"
br_require_tools ip iperf3 ping socat awk python3

read -r D1 D2 D3 <<<"${BENCH_DELAYS:-10 40 25}"
[[ $D1 =~ ^[0-9]+$ && $D2 =~ ^[0-9]+$ && $D3 =~ ^[0-9]+$ ]] ||
	br_fail "BENCH_DELAYS: three one-way delays in ms, such as \"40 40 40\""
LOSS3=${BENCH_LOSS3:-0.5}
[[ $LOSS3 =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	br_fail "BENCH_LOSS3: the third link's loss in %, such as 0 or 2"
read -r R1 R2 R3 <<<"${BENCH_RATES:-8 20 12}"
[[ $R1 =~ ^[1-9][0-9]*$ && $R2 =~ ^[1-9][0-9]*$ && $R3 =~ ^[1-9][0-9]*$ &&
	$R1 != "$R2" && $R2 != "$R3" && $R1 != "$R3" ]] ||
	br_fail "BENCH_RATES: three different rates in Mbit/s, such as \"200 20 12\""
LINKS=("${R1}mbit $D1 0" "${R2}mbit $D2 0" "${R3}mbit $D3 $LOSS3")
NAMES=("l$R1" "l$R2" "l$R3")
SUM=$((R1 + R2 + R3))
STEADY=3	# s: the TCP flow's start-up is over by then

stat_sum()	# ROLE LINK KEY: value from the last stats lines (0 if none)
{
	local v
	v=$(br_stat "$1" "$2" "$3")
	echo "${v:-0}"
}

# iperf_figures JSON DIR: the receiver's goodput (Mbit/s) over the whole
# run, and over its own one-second intervals from STEADY s on, the
# sender's TCP retransmissions, then the goodput of each second. For an
# upload the receiver is the server, whose intervals come as text.
iperf_figures()
{
	python3 - "$1" "$2" "$STEADY" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
steady = float(sys.argv[3])
whole = d["end"]["sum_received"]["bits_per_second"] / 1e6
iv = []
if sys.argv[2] == "rx":
    iv = [(i["sum"]["start"], i["sum"]["end"], i["sum"]["bytes"])
          for i in d["intervals"]]
else:
    unit = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    for line in d.get("server_output_text", "").splitlines():
        m = re.match(r"\[\s*\d+\]\s+([\d.]+)-([\d.]+)\s+sec\s+([\d.]+)\s+([KMG]?)Bytes", line)
        if m and "sender" not in line and "receiver" not in line:
            iv.append((float(m[1]), float(m[2]), float(m[3]) * unit[m[4]]))
# each whole second (iperf3 ends with a sliver of an interval)
series = " ".join("%.0f" % (i[2] * 8 / (i[1] - i[0]) / 1e6)
                  for i in iv if i[1] - i[0] > 0.5)
iv = [i for i in iv if i[0] >= steady - 1e-6]
span = iv[-1][1] - iv[0][0] if iv else 0
retx = d["end"].get("sum_sent", {}).get("retransmits", "?")
print("%.2f %.2f %s %s" % (whole, sum(i[2] for i in iv) * 8 / span / 1e6 if span else 0, retx, series))
PY
}

run_direction()	# SCHED TITLE DIR(tx|rx) [iperf3 flags]
{
	local sched=$1 title=$2 dir=$3 out gp rtt i total=0 recv send
	shift 3
	recv=master send=slave
	[[ $dir == rx ]] && recv=slave send=master
	br_usr1 slave
	br_usr1 master
	declare -A before resent0
	for n in "${NAMES[@]}"; do
		before[$n]=$(stat_sum slave "$n" "${dir}_bytes")
		resent0[$n]=$(stat_sum "$send" "$n" resent)
	done
	local held0 lost0 late0 cong0 retx hc0 hcd0 hcs0
	cong0=$(br_total "$send" congested)
	hc0=$(br_total "$send" hc_tx) hcd0=$(br_total "$recv" hc_drop)
	hcs0=$(br_total "$send" hc_saved)
	held0=$(br_total "$recv" reorder_held)
	lost0=$(br_total "$recv" reorder_lost)
	late0=$(br_total "$recv" reorder_late)
	bench_ping_avg $((SECS * 5 - 10)) >"$BR_TMP/ping.$dir" &
	local pp=$!
	br_in "$BR_NS_SLAVE" iperf3 -c "$BR_SRV_IP" -t "$SECS" -J \
		--get-server-output ${BENCH_CC:+-C "$BENCH_CC"} "$@" \
		>"$BR_TMP/iperf.$sched.$dir.json"
	wait "$pp" || true
	rtt=$(cat "$BR_TMP/ping.$dir")
	read -r gp steady retx series < <(iperf_figures "$BR_TMP/iperf.$sched.$dir.json" "$dir")
	br_usr1 slave
	br_usr1 master
	printf '  %-10s %-9s goodput %6.2f Mbit/s  efficiency %.2f  RTT under load %s ms\n' \
		"$sched" "$title" "$gp" "$(awk -v g="$gp" -v s=$SUM 'BEGIN { print g / s }')" "${rtt:-?}"
	printf '             from %s s on (TCP start-up left out): %.2f Mbit/s, efficiency %.2f, %.0f %% of the ceiling\n' \
		"$STEADY" "$steady" "$(awk -v g="$steady" -v s=$SUM 'BEGIN { print g / s }')" \
		"$(awk -v g="$steady" -v s=$SUM -v c="$CEILING" 'BEGIN { print 100 * g / s / c }')"
	echo "             each second (Mbit/s): $series"
	for n in "${NAMES[@]}"; do
		i=$(( $(stat_sum slave "$n" "${dir}_bytes") - ${before[$n]} ))
		total=$((total + i))
		eval "d_$n=$i"
	done
	printf '             shares:'
	for n in "${NAMES[@]}"; do
		eval "i=\$d_$n"
		awk -v n="$n" -v b="$i" -v t="$total" 'BEGIN { printf "  %s %.1f%%", n, t ? 100 * b / t : 0 }'
	done
	printf '\n             reorder at the receiver: held %s, late %s, lost %s\n' \
		$(( $(br_total "$recv" reorder_held) - held0 )) \
		$(( $(br_total "$recv" reorder_late) - late0 )) \
		$(( $(br_total "$recv" reorder_lost) - lost0 ))
	printf '             resent by the sender:'
	for n in "${NAMES[@]}"; do
		printf '  %s %s' "$n" $(( $(stat_sum "$send" "$n" resent) - ${resent0[$n]} ))
	done
	printf "\n             dropped from the sender's queue (congested) %s; TCP retransmissions %s\n" \
		$(( $(br_total "$send" congested) - cong0 )) "$retx"
	i=$(( $(br_total "$send" hc_tx) - hc0 ))
	printf '             headers compressed %s (%s bytes less each), of them dropped at the receiver %s\n' \
		"$i" "$(awk -v s=$(( $(br_total "$send" hc_saved) - hcs0 )) -v n="$i" \
			'BEGIN { printf "%.1f", n ? s / n : 0 }')" \
		$(( $(br_total "$recv" hc_drop) - hcd0 ))
}

# baseline: the same TCP flow over the second uplink alone, no tunnel:
# what TCP itself gets of a link, before any tunnel's overhead
baseline()
{
	local dir gp steady series json
	ip -n "$BR_NS_INET" route add 198.18.200.0/24 via "$BR_MASTER_IP"
	ip -n "$BR_NS_SRV" route add 198.18.2.0/24 via 198.18.200.1
	echo "  no tunnel, one TCP flow over the $R2 Mbit/s link alone (TCP and" \
		"its headers cap it at $(awk 'BEGIN { printf "%.3f", 1448 / 1514 }')):"
	for dir in tx rx; do
		json=$BR_TMP/iperf.direct.$dir.json
		# shellcheck disable=SC2046
		br_in "$BR_NS_SLAVE" iperf3 -c "$BR_SRV_IP" -B 198.18.2.2 \
			-t "$SECS" -J --get-server-output \
			${BENCH_CC:+-C "$BENCH_CC"} $([[ $dir == rx ]] && echo -R) \
			>"$json"
		read -r gp steady _ series < <(iperf_figures "$json" "$dir")
		printf '  %-10s %-9s goodput %6.2f Mbit/s  efficiency %.2f, from %s s on %.2f\n' \
			direct "$([[ $dir == tx ]] && echo upload || echo download)" \
			"$gp" "$(awk -v g="$gp" -v r="$R2" 'BEGIN { print g / r }')" \
			"$STEADY" "$(awk -v g="$steady" -v r="$R2" 'BEGIN { print g / r }')"
	done
	ip -n "$BR_NS_INET" route del 198.18.200.0/24
	ip -n "$BR_NS_SRV" route del 198.18.2.0/24
}

bench_links "${LINKS[@]}"
br_genkey
br_bg "$BR_NS_SRV" "$BR_TMP/iperf-s.log" iperf3 -s -B "$BR_SRV_IP"
br_wait_listen "$BR_NS_SRV" tcp 5201
echo
cc=${BENCH_CC:-$(br_in "$BR_NS_SLAVE" sysctl -n net.ipv4.tcp_congestion_control)}
echo "braid aggregate benchmark: links $R1/$R2/$R3 Mbit/s, one-way $D1/$D2/$D3 ms, $LOSS3 % loss on the $R3, ${BENCH_QUEUE:-100} ms buffers; $SECS s per flow, TCP $cc"
# what a full link carries of TCP payload: 1348 bytes (MTU 1400 less IP,
# TCP and timestamps) in a frame of 1400 + 38 (braid) + 28 (UDP/IP) + 14,
# less the 36 bytes header compression takes off a bulk flow's data
# packets (ack and window unchanged, timestamps as offsets; BENCH_HC=0:
# off)
HC=true HC_SAVED=36
[[ ${BENCH_HC:-1} == 1 ]] || HC=false HC_SAVED=0
CEILING=$(awk -v c=$HC_SAVED 'BEGIN { printf "%.3f", 1348 / (1400 - c + 38 + 28 + 14) }')
echo "  (per-packet overhead caps efficiency at $CEILING)"
[[ ${BENCH_BASELINE:-1} == 0 ]] || baseline
for sched in ${BENCH_SCHEDS:-earliest equalized roundrobin}; do
	br_conf_master "$BR_TMP/master-$sched.conf" "scheduler = \"$sched\";" \
		"header_compression = $HC;"
	# round-robin gets the weights that suit these links; earliest needs none
	BR_SLAVE_EXTRA="scheduler = \"$sched\"; header_compression = $HC;"
	br_conf_slave "$BR_TMP/slave-$sched.conf" "$BR_MASTER_IP:$BR_PORT" \
		"$(br_link_iface "l$R1" u1 "$R1")" "$(br_link_iface "l$R2" u2 "$R2")" \
		"$(br_link_iface "l$R3" u3 "$R3")"
	br_start master "$BR_TMP/master-$sched.conf" "$BR_TMP/master-$sched.log"
	br_wait_tun master
	br_start slave "$BR_TMP/slave-$sched.conf" "$BR_TMP/slave-$sched.log"
	br_wait_tun slave
	br_slave_route_via_tun
	br_wait_links_up slave 15 "${NAMES[@]}"
	sleep 2
	echo
	echo "  $sched: idle RTT through the tunnel $(bench_ping_avg 10) ms"
	run_direction "$sched" upload tx
	run_direction "$sched" download rx -R
	br_stop slave
	br_stop master
done
