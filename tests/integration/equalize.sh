#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scheduler = "equalized" end to end, over a near uplink (5 ms one way) and
# a far one (40 ms) made by tests/tools/impair: at rest a TCP handshake
# through the tunnel already takes the far link's round trip, because both
# sides hold the near link's packets back by the difference (learned from
# keepalives before any data), while a ping, which nothing times a round
# trip by, is not held and takes the near link's; the hold shows in the
# stats; a transfer uses both links and arrives intact; both daemons exit
# cleanly.
# Usage: tests/integration/equalize.sh path/to/braid path/to/impair
set -euo pipefail

if [[ $# -lt 2 || ! -x $1 || ! -x $2 ]]; then
	echo "usage: $0 BRAID-BINARY IMPAIR-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
BENCH_IMPAIR=$(realpath "$2")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/bench/links.sh
. "$ROOT/tests/bench/links.sh"
br_require_tools ip ping socat ss sha256sum awk python3

SIZE=$((8 << 20))
NEAR=5 FAR=40		# one-way ms

bench_links "20mbit $NEAR 0" "20mbit $FAR 0"
br_genkey
br_conf_master "$BR_TMP/master.conf" 'scheduler = "equalized";'
BR_SLAVE_EXTRA='scheduler = "equalized";'
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface near u1)" "$(br_link_iface far u2)"
br_start_pair near far
sleep 1			# a few keepalive round trips on each link

# --- 1. at rest ---------------------------------------------------------------
echo
echo "== 1. at rest: a TCP handshake takes the far link's round trip, a ping the near one's"
br_bg "$BR_NS_SRV" "$BR_TMP/listen.log" socat -u TCP-LISTEN:7200,fork,reuseaddr \
	OPEN:/dev/null
br_wait_listen "$BR_NS_SRV" tcp 7200
# the average of 5 connects (SYN and SYN-ACK both held)
conn=$(br_in "$BR_NS_SLAVE" python3 - "$BR_SRV_IP" <<'PY'
import socket, sys, time
t = []
for _ in range(5):
    s = socket.socket()
    a = time.monotonic()
    s.connect((sys.argv[1], 7200))
    t.append(time.monotonic() - a)
    s.close()
    time.sleep(0.2)
print("%.1f" % (sum(t) / len(t) * 1000))
PY
)
rtt=$(bench_ping_avg 10)
echo "   TCP connect through the tunnel: $conn ms; ping: ${rtt:-none} ms (links: $((2 * NEAR)) and $((2 * FAR)) ms)"
awk -v r="$conn" -v f="$((2 * FAR))" 'BEGIN { exit !(r >= f - 8 && r <= f + 40) }' ||
	br_fail "TCP connect $conn ms: not held to the far link's $((2 * FAR)) ms"
[[ -n $rtt ]] || br_fail "no ping reply through the tunnel"
awk -v r="$rtt" -v n="$((2 * NEAR))" 'BEGIN { exit !(r <= n + 20) }' ||
	br_fail "ping RTT $rtt ms: not the near link's $((2 * NEAR)) ms (held, as if TCP timed it?)"
for role in slave master; do
	br_usr1 "$role"
	hn=$(br_stat "$role" near hold_ms) hf=$(br_stat "$role" far hold_ms)
	echo "   $role: hold near ${hn:-?} ms, far ${hf:-?} ms"
	awk -v n="${hn:-0}" -v f="${hf:-1}" -v d="$((FAR - NEAR))" \
		'BEGIN { exit !(n >= d - 6 && n <= d + 6 && f == 0) }' ||
		br_fail "$role holds near ${hn:-?} ms, far ${hf:-?} ms; want about $((FAR - NEAR)) and 0"
done
echo "   ok: both sides hold the near link back by the difference, only what TCP times"

# --- 2. a transfer ----------------------------------------------------------------
echo
echo "== 2. $((SIZE >> 20)) MiB TCP transfer slave -> srv"
u1_0=$(br_ctr "$BR_NS_SLAVE" u1 tx_bytes)
u2_0=$(br_ctr "$BR_NS_SLAVE" u2 tx_bytes)
br_transfer xfer 7201 "$SIZE"
u1=$(($(br_ctr "$BR_NS_SLAVE" u1 tx_bytes) - u1_0))
u2=$(($(br_ctr "$BR_NS_SLAVE" u2 tx_bytes) - u2_0))
awk -v s="$SIZE" -v t="$BR_XFER_SECS" -v a="$u1" -v b="$u2" 'BEGIN {
	printf "   %.1f Mbit/s; near sent %.0f%%, far %.0f%% as many bytes (headers, resends included)\n",
		s * 8 / t / 1e6, 100 * a / s, 100 * b / s }'
((u1 * 5 >= SIZE && u2 * 5 >= SIZE)) ||
	br_fail "a link carried under 20% of the transfer (near $u1, far $u2 bytes)"
echo "   ok: intact, both links carried a share"

# --- 3. shutdown ----------------------------------------------------------------
echo
echo "== 3. SIGTERM to both daemons"
br_stop_pair
echo "   ok: both exited 0"
echo
echo "PASS: equalize ($(br_elapsed)s)"
