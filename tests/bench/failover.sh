#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark (prints figures): a link cut mid-transfer and restored. Same
# links as aggregate.sh; one TCP flow slave -> srv; 3 s in, the 20 Mbit/s
# link loses everything (both ways), 4 s later it comes back. Prints the
# longest gap in delivered data and whether the flow survived, for each
# scheduler (default dead_time).
# Usage (root): tests/bench/failover.sh [build-dir]
# Environment: BENCH_DIR=download (srv -> slave; default upload),
# BENCH_SCHEDS="earliest equalized roundrobin", BENCH_CC=cubic|bbr|reno
# (the flow's TCP congestion control; default: the system's).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(realpath "${1:-$ROOT/build}")
# shellcheck source=tests/bench/links.sh
. "$ROOT/tests/bench/links.sh"
br_require_tools ip socat python3 awk

SIZE=$((40 << 20))
DIR=${BENCH_DIR:-upload}		# or download (srv -> slave)
bench_links "8mbit 10 0" "20mbit 40 0" "12mbit 25 0.5"
br_genkey
cc=${BENCH_CC:-$(br_in "$BR_NS_SLAVE" sysctl -n net.ipv4.tcp_congestion_control)}

# A receiver that reports the longest pause between arriving data.
cat >"$BR_TMP/gaps.py" <<'PY'
import socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(1)
c, _ = s.accept()
start = last = time.monotonic()
total, gap, at, gaps = 0, 0.0, 0.0, []
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    now = time.monotonic()
    if total and now - last > gap:
        gap, at = now - last, now - start
    if total and now - last > 0.1:
        gaps.append(f"{now - start:.2f}s:{(now - last) * 1000:.0f}ms")
    last = now
    total += len(d)
print(f"bytes={total} gap_ms={gap * 1000:.0f} gap_at_s={at:.1f} secs={last - start:.1f} gaps>100ms={' '.join(gaps[:8])}")
PY

echo
echo "braid failover benchmark: links 8/20/12 Mbit/s, one-way 10/40/25 ms; the 20 Mbit/s link cut 3 s into a $((SIZE >> 20)) MiB $DIR, back 4 s later; TCP $cc"
port=7400
for dead in ${BENCH_SCHEDS:-earliest equalized roundrobin}; do
	port=$((port + 1))
	br_conf_master "$BR_TMP/m$dead.conf" "scheduler = \"$dead\";"
	BR_SLAVE_EXTRA="scheduler = \"$dead\";"
	br_conf_slave "$BR_TMP/s$dead.conf" "$BR_MASTER_IP:$BR_PORT" \
		"$(br_link_iface l8 u1 8)" "$(br_link_iface l20 u2 20)" \
		"$(br_link_iface l12 u3 12)"
	br_start master "$BR_TMP/m$dead.conf" "$BR_TMP/m$dead.log"
	br_wait_tun master
	br_start slave "$BR_TMP/s$dead.conf" "$BR_TMP/s$dead.log"
	br_wait_tun slave
	br_slave_route_via_tun
	br_wait_links_up slave 15 l8 l20 l12
	# upload: srv receives from the slave; download: the slave from srv
	rx_ns=$BR_NS_SRV rx_ip=$BR_SRV_IP tx_ns=$BR_NS_SLAVE
	if [[ $DIR == download ]]; then
		rx_ns=$BR_NS_SLAVE rx_ip=$BR_TUN_SLAVE tx_ns=$BR_NS_SRV
	fi
	br_bg "$rx_ns" "$BR_TMP/gaps$dead.out" python3 "$BR_TMP/gaps.py" \
		"$rx_ip" "$port"
	rx=$BR_LASTPID
	br_wait_listen "$rx_ns" tcp "$port"
	head -c "$SIZE" /dev/urandom >"$BR_TMP/src"
	br_bg "$tx_ns" "$BR_TMP/tx$dead.out" socat -u "OPEN:$BR_TMP/src" \
		"TCP:$rx_ip:$port${BENCH_CC:+,setsockopt-string=6:13:$BENCH_CC}"
	sleep 3
	bench_cut 2
	sleep 4
	bench_restore 2
	br_wait_pid "$rx" 120 || br_fail "transfer not finished in 120 s"
	res=$(cat "$BR_TMP/gaps$dead.out")
	bytes=$(sed -E 's/.*bytes=([0-9]+).*/\1/' <<<"$res")
	printf '  %-10s: longest gap %s ms (at %s s), %s of %s bytes, flow %s\n' \
		"$dead" "$(sed -E 's/.*gap_ms=([0-9]+).*/\1/' <<<"$res")" \
		"$(sed -E 's/.*gap_at_s=([0-9.]+).*/\1/' <<<"$res")" "$bytes" "$SIZE" \
		"$([[ $bytes == "$SIZE" ]] && echo survived || echo BROKEN)"
	# (a side may have logged none of these: not a failure)
	{ grep -Eo 'link l20 \(id [0-9]+\) (down|up|stalled|delivers).*' "$BR_TMP/s$dead.log" || true; } | sed 's/^/      slave: /' | head -4
	{ grep -Eo 'link l20 \(id [0-9]+\) (stalled|delivers).*' "$BR_TMP/m$dead.log" || true; } | sed 's/^/      master: /' | head -2
	br_stop slave
	br_stop master
done
