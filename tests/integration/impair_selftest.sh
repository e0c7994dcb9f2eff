#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Self-test of tests/tools/impair: host A ══ impair namespace ══ host B, and
# the delays, jitter (in order, and out of order with reorder), loss, rate
# limit with its bounded queue, run-time control and a clean exit, each
# measured and checked against a tolerance. About 40 s.
# Usage: tests/integration/impair_selftest.sh path/to/impair
#
#   hA: eth0 198.18.50.1 ══ a ─ imp: impair a b ─ b ══ eth0 198.18.50.2 :hB
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 IMPAIR-BINARY" >&2
	exit 2
fi
IMPAIR=$(realpath "$1")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

NS_A="${BR_PFX}hA"
NS_I="${BR_PFX}imp"
NS_B="${BR_PFX}hB"
IP_A=198.18.50.1
IP_B=198.18.50.2
CTL=$BR_TMP/impair.sock
OUT=$BR_TMP/impair.log
PORT=5301
D_A2B=10	# ms, one way
D_B2A=40
JITTER=8	# ms
LOSS=5		# %
IMP_PID=

br_require_root
br_require_tools ip ping iperf3 socat python3 awk ss

# UDP probe. "recv PORT COUNT": prints got=, reordered= (arrivals with a
# lower sequence number than one already seen) and one-way delays in ms
# (both ends share CLOCK_MONOTONIC): min, percentiles p5 p50 p95, avg, max;
# ends after COUNT datagrams, 1 s of silence after the first, or 15 s.
# "send DST PORT COUNT PPS". Scheduling noise on a busy machine shows in max
# and avg; min (nothing may arrive early) and p50 are the robust figures.
# shellcheck disable=SC2016
PROBE='
import socket, struct, sys, time
mode, a = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "send":
    dst, count, pps = (a[0], int(a[1])), int(a[2]), float(a[3])
    t = time.monotonic()
    for i in range(count):
        t += 1 / pps
        s.sendto(struct.pack("!IQ", i, time.monotonic_ns()) + bytes(88), dst)
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)
    sys.exit(0)
s.bind(("0.0.0.0", int(a[0])))
count, got, reord, top, ds = int(a[1]), 0, 0, -1, []
s.settimeout(15)
while got < count:
    try:
        b = s.recv(2048)
    except socket.timeout:
        break
    now = time.monotonic_ns()
    seq, ts = struct.unpack("!IQ", b[:12])
    got += 1
    ds.append((now - ts) / 1e6)
    if seq < top:
        reord += 1
    top = max(top, seq)
    s.settimeout(1)
ds = sorted(ds) or [0]
pc = lambda q: ds[min(len(ds) - 1, int(q * len(ds)))]
print("got=%d reordered=%d min=%.2f p5=%.2f p50=%.2f p95=%.2f avg=%.2f max=%.2f"
      % (got, reord, ds[0], pc(.05), pc(.5), pc(.95), sum(ds) / len(ds), ds[-1]))
'

kv()	# "k1=v1 k2=v2" KEY -> value
{
	tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# check DESC VALUE LO HI: fail unless LO <= VALUE <= HI.
check()
{
	awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v >= lo && v <= hi) }' ||
		br_fail "$1: $2 not in [$3, $4]"
	br_log "  ok  $1 = $2 (want $3..$4)"
}

topology()
{
	local h ns
	br_ns_add "$NS_A"
	br_ns_add "$NS_I"
	br_ns_add "$NS_B"
	ip -n "$NS_A" link add eth0 type veth peer name a netns "$NS_I"
	ip -n "$NS_B" link add eth0 type veth peer name b netns "$NS_I"
	ip -n "$NS_A" addr add "$IP_A/24" dev eth0
	ip -n "$NS_B" addr add "$IP_B/24" dev eth0
	for h in "$NS_A eth0" "$NS_B eth0" "$NS_I a" "$NS_I b"; do
		ns=${h% *}
		ip -n "$ns" link set dev "${h#* }" up
	done
	br_log "topology up: $NS_A ($IP_A) ══ $NS_I (impair a b) ══ $NS_B ($IP_B)"
}

ctl()	# LINE: send it to impair's control socket; fail unless "ok"
{
	local r
	r=$(printf '%s\n' "$*" | br_in "$NS_I" socat -t 2 - "UNIX-CONNECT:$CTL") ||
		br_fail "ctl '$*': socat failed"
	[[ $(tail -n 1 <<<"$r") == ok ]] || br_fail "ctl '$*': $r"
	[[ $1 == stats ]] && printf '%s\n' "$r" | sed -n 's/^impair /    /p'
	[[ $1 == stats ]] || br_log "ctl: $*"
}

# probe FROM-NS TO-NS TO-IP COUNT PPS: UDP probe, prints the receiver's line.
probe()
{
	local out=$BR_TMP/probe.out rx
	br_bg "$2" "$out" python3 -c "$PROBE" recv "$PORT" "$4"
	rx=$BR_LASTPID
	br_wait_listen "$2" udp "$PORT"
	br_in "$1" python3 -c "$PROBE" send "$3" "$PORT" "$4" "$5"
	br_wait_pid "$rx" 20 || br_fail "probe receiver did not finish"
	cat "$out"
}

# ping_rtt COUNT INTERVAL: "min avg max" RTT in ms, A -> B.
ping_rtt()
{
	br_in "$NS_A" ping -n -q -c "$1" -i "$2" -W 2 "$IP_B" |
		awk -F'[/ =]+' '/^rtt/ { print $6, $7, $8 }'
}

# iperf DESC CLIENT-ARGS...: iperf3 A -> B, prints the received Mbit/s.
iperf()
{
	local desc=$1 j=$BR_TMP/iperf.json
	shift
	br_bg "$NS_B" "$BR_TMP/iperf-s.out" iperf3 -s -1 -B "$IP_B" -p 5201
	br_wait_listen "$NS_B" tcp 5201
	br_in "$NS_A" iperf3 -c "$IP_B" -p 5201 -J "$@" >"$j" ||
		br_fail "$desc: iperf3 failed: $(tail -n 3 "$j")"
	br_wait_pid "$BR_LASTPID" 5 || true
	python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
u = e.get("sum", {})
if "lost_percent" in u:   # UDP: what the receiver got
    print("%.2f" % (u["bits_per_second"] * (1 - u["lost_percent"] / 100) / 1e6))
else:
    print("%.2f" % (e["sum_received"]["bits_per_second"] / 1e6))
' "$j"
}

cpu_ticks()	# PID -> "utime stime"
{
	awk '{ print $14, $15 }' "/proc/$1/stat"
}

offloads_off()
{
	if ! command -v ethtool >/dev/null; then
		br_log "no ethtool: offloads stay on (impair carries GSO frames whole)"
		return
	fi
	br_in "$NS_A" ethtool -K eth0 tso off gso off gro off
	br_in "$NS_B" ethtool -K eth0 tso off gso off gro off
	br_log "TSO/GSO/GRO off on the hosts: MTU-sized frames from here on"
}

topology
br_bg "$NS_I" "$OUT" "$IMPAIR" a b --a2b-delay "$D_A2B" --b2a-delay "$D_B2A" \
	--stats --ctl "$CTL"
IMP_PID=$BR_LASTPID
br_wait_for 3 grep -q '^impair: ready' "$OUT" ||
	br_fail "impair did not start: $(tail -n 5 "$OUT")"
br_log "impair running (pid $IMP_PID): a2b delay $D_A2B ms, b2a delay $D_B2A ms"

# --- delay ---------------------------------------------------------------
br_in "$NS_A" ping -n -q -c 1 -W 2 "$IP_B" >/dev/null || br_fail "no ping A -> B"
read -r rmin ravg rmax < <(ping_rtt 20 0.05)
br_log "ping RTT min/avg/max $rmin/$ravg/$rmax ms (want $((D_A2B + D_B2A)) ± 5)"
check "ping RTT min" "$rmin" $((D_A2B + D_B2A - 1)).9 $((D_A2B + D_B2A + 1))
check "ping RTT avg" "$ravg" $((D_A2B + D_B2A - 5)) $((D_A2B + D_B2A + 5))
r=$(probe "$NS_A" "$NS_B" "$IP_B" 500 500)
br_log "UDP a2b, 500 pps: $r"
check "one-way a2b delay min" "$(kv "$r" min)" $((D_A2B - 1)).9 $((D_A2B + 1))
check "one-way a2b delay p50" "$(kv "$r" p50)" "$D_A2B" $((D_A2B + 1))
r=$(probe "$NS_B" "$NS_A" "$IP_A" 500 500)
br_log "UDP b2a, 500 pps: $r"
check "one-way b2a delay min" "$(kv "$r" min)" $((D_B2A - 1)).9 $((D_B2A + 1))
check "one-way b2a delay p50" "$(kv "$r" p50)" "$D_B2A" $((D_B2A + 1))

# --- jitter: order kept unless reorder -----------------------------------
ctl both jitter "$JITTER"
r=$(probe "$NS_A" "$NS_B" "$IP_B" 1000 1000)
br_log "UDP a2b, jitter ±$JITTER ms, 1000 pps: $r"
check "reordered frames" "$(kv "$r" reordered)" 0 0
check "delay min" "$(kv "$r" min)" $((D_A2B - JITTER - 1)).9 $((D_A2B + JITTER))
check "delay p50" "$(kv "$r" p50)" $((D_A2B - JITTER)) $((D_A2B + JITTER))
check "delay spread p95 - p5" "$(awk -v a="$(kv "$r" p95)" -v b="$(kv "$r" p5)" \
	'BEGIN { print a - b }')" "$((JITTER / 2))" $((2 * JITTER + 1))
read -r rmin ravg rmax < <(ping_rtt 20 0.05)
br_log "ping RTT with jitter ±$JITTER ms each way: min/avg/max $rmin/$ravg/$rmax ms"
check "ping RTT avg with jitter" "$ravg" $((D_A2B + D_B2A - 5)) $((D_A2B + D_B2A + 5))
ctl a2b reorder 1
r=$(probe "$NS_A" "$NS_B" "$IP_B" 1000 1000)
br_log "UDP a2b, jitter ±$JITTER ms, reorder on, 1000 pps: $r"
check "reordered frames with reorder" "$(kv "$r" reordered)" 50 1000
check "delay p50 with reorder" "$(kv "$r" p50)" $((D_A2B - 1)) $((D_A2B + 1))
ctl both jitter 0 reorder 0

# --- loss ----------------------------------------------------------------
ctl a2b loss "$LOSS"
r=$(probe "$NS_A" "$NS_B" "$IP_B" 2000 2000)
lost=$(awk -v g="$(kv "$r" got)" 'BEGIN { printf "%.2f", (2000 - g) / 20 }')
br_log "UDP a2b, loss $LOSS%, 2000 datagrams: $r -> lost $lost%"
check "loss %" "$lost" $((LOSS - 2)) $((LOSS + 2))
ctl a2b loss 0

# --- run-time control: cut the link and restore it ----------------------
ctl a2b loss 100
n=$(br_ping "$NS_A" "$IP_B" 5 0.1)
check "pings answered with a2b loss 100" "$n" 0 0
ctl a2b loss 0
n=$(br_ping "$NS_A" "$IP_B" 5 0.1)
check "pings answered with a2b loss 0" "$n" 5 5

# --- rate and queue ------------------------------------------------------
ctl both rate 20mbit
br_log "TCP A -> B through 20mbit, queue 100 ms, offloads on (GSO frames), ping alongside"
br_in "$NS_A" ping -n -q -c 35 -i 0.1 -W 2 "$IP_B" >"$BR_TMP/ping-load.out" &
pp=$!
mbit=$(iperf "TCP 20mbit" -t 4)
wait "$pp" || true
read -r rmin ravg rmax < <(awk -F'[/ =]+' '/^rtt/ { print $6, $7, $8 }' "$BR_TMP/ping-load.out")
br_log "TCP through 20mbit: $mbit Mbit/s; ping RTT under load min/avg/max $rmin/$ravg/$rmax ms"
check "TCP Mbit/s through 20mbit" "$mbit" 16 20.5
check "ping RTT max under load (base 50 + queue 100)" "$rmax" 50 170
ctl stats

offloads_off
# Payload rate; frames carry 42 bytes more, and the queue drains ~100 ms
# after the sender stops, so about 20 * 1400 / 1442 * 3.1 / 3 = 20.1.
mbit=$(iperf "UDP 30M into 20mbit" -u -b 30M -l 1400 -t 3)
br_log "UDP 30 Mbit/s offered into 20mbit: $mbit Mbit/s delivered"
check "UDP Mbit/s delivered through 20mbit" "$mbit" 17 20.5

ctl both rate 50mbit
tck=$(getconf CLK_TCK)
read -r u0 s0 < <(cpu_ticks "$IMP_PID")
t0=$EPOCHREALTIME
mbit=$(iperf "TCP 50mbit" -t 5)
read -r u1 s1 < <(cpu_ticks "$IMP_PID")
read -r cpu usr < <(awk -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v h="$tck" \
	-v a="$t0" -v b="$EPOCHREALTIME" \
	'BEGIN { t = h * (b - a); printf "%.1f %.1f\n", 100 * (u + s) / t, 100 * u / t }')
# System time includes the far host's receive path: a veth delivers
# inside the sender's send(), and impair is the sender here.
br_log "TCP through 50mbit: $mbit Mbit/s, impair CPU $cpu% of one core ($usr% user)"
check "TCP Mbit/s through 50mbit" "$mbit" 40 51
check "impair CPU % at 50mbit" "$cpu" 0 60
ctl stats

# --- stats and exit ------------------------------------------------------
nstat=$(grep -c '^impair stats a2b' "$OUT" || true)
kill -USR1 "$IMP_PID"
# shellcheck disable=SC2016
br_wait_for 2 bash -c '(( $(grep -c "^impair stats a2b" "$1") > $2 ))' _ "$OUT" "$nstat" ||
	br_fail "no stats on SIGUSR1"
br_kill "$IMP_PID" TERM
((BR_WAIT_RC == 0)) || br_fail "impair exited with status $BR_WAIT_RC"
[[ ! -e $CTL ]] || br_fail "control socket left behind"
br_log "impair exited with status 0; its final counters:"
grep '^impair stats' "$OUT" | tail -n 2 | sed 's/^/    /'
drops=$(grep '^impair stats' "$OUT" | tail -n 2 |
	grep -o 'drop_\(full\|err\|kernel\)=[0-9]*' | awk -F= '{ s += $2 } END { print s + 0 }')
check "frames lost to buffer, send or kernel overruns" "$drops" 0 0
br_log "PASS impair self-test"
