#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile traffic: while a transfer runs through the tunnel, an attacker on
# the internet floods the master's port with garbage, forged handshake
# initiations and forged data packets, and replays a captured real
# initiation. The transfer arrives intact, the master answers none of it,
# counts every datagram it drops, does not grow, takes a restarted slave's
# handshake in the middle of a flood, keeps serving and exits cleanly.
# Usage: tests/integration/flood.sh path/to/braid path/to/flood
set -euo pipefail

if [[ $# -lt 2 || ! -x $1 || ! -x $2 ]]; then
	echo "usage: $0 BRAID-BINARY FLOOD-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
FLOOD_BIN=$(realpath "$2")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

RATE=20mbit		# per uplink, both directions
WARM_SIZE=$((8 << 20))	# bytes of the baseline transfer, no flood
SIZE=$((32 << 20))	# bytes of the transfer under the flood (32 MiB)
FLOOD_SECS=15		# the main flood; the transfer runs inside it
FIRE_SECS=5		# at least this long a flood for the slave's restart
FLOOD_CAP=60		# s: a flood run ends by itself after this (a backstop)
MIX_PPS=20000		# garbage + forged initiations + forged data
REPLAY_PPS=2000		# the captured real initiation, over and over
SLACK=100		# datagrams the accounting may miss (keepalives that
			# cross a stats snapshot)
RSS_MARGIN=1024		# kB the master may grow during the flood
LOG_MAX=100		# master log lines the flood may cause (rate limits)
NS_ATK="${BR_PFX}attacker"
ATK_IP=198.18.40.2
TARGET=$BR_MASTER_IP:$BR_PORT

br_require_root
br_require_tools ip tc socat ss sha256sum awk python3 tcpdump timeout

# Attacker: a host on the internet, routed through inet like the slave's
# uplinks, so the master could answer it if it wanted to.
attacker_add()
{
	br_ns_add "$NS_ATK"
	br_veth "$NS_ATK" eth0 "$ATK_IP/24" "$BR_NS_INET" a0 198.18.40.1/24
	ip -n "$NS_ATK" route add default via 198.18.40.1 dev eth0
	br_log "attacker up: $NS_ATK, $ATK_IP (inet: a0 198.18.40.1)"
}

# pcap_payload PCAP OUT: the UDP payload of the first packet (Ethernet,
# IPv4) in PCAP into OUT; prints its length and its 12-byte header.
pcap_payload()
{
	python3 - "$1" "$2" <<'EOF'
import struct, sys
raw = open(sys.argv[1], 'rb').read()
magic = raw[:4]
if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
    end = '<'
elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
    end = '>'
else:
    sys.exit('not a pcap file')
linktype = struct.unpack(end + 'I', raw[20:24])[0]
if linktype != 1:
    sys.exit('link type %d, want 1 (Ethernet)' % linktype)
if len(raw) < 40:
    sys.exit('no packet in the capture')
incl = struct.unpack(end + 'I', raw[32:36])[0]
frame = raw[40:40 + incl]
if len(frame) != incl or frame[12:14] != b'\x08\x00':
    sys.exit('first packet truncated or not IPv4')
ip = frame[14:]
ihl = (ip[0] & 0xf) * 4
if ip[9] != 17:
    sys.exit('first packet is not UDP')
udp = ip[ihl:]
ulen = struct.unpack('!H', udp[4:6])[0]
payload = udp[8:ulen]
if len(payload) != ulen - 8:
    sys.exit('UDP payload truncated (snaplen?)')
open(sys.argv[2], 'wb').write(payload)
print('%d bytes, header %s' % (len(payload), payload[:12].hex()))
EOF
}

rss_kb()	# PID
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

cpu_ticks()	# PID: utime + stime
{
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

udp_mib()	# NS FIELD: a counter from the Udp: lines of /proc/net/snmp
{
	# shellcheck disable=SC2016
	br_in "$1" awk -v f="$2" '$1 == "Udp:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
		else print $col[f] }' /proc/net/snmp
}

# snap TAG: everything the master counts as dropped or accepted, from fresh
# stats, into ST[TAG:KEY]; also the master namespace's UDP counters.
DROPS="auth_fail malformed replay stale_session hs_bad hs_stale hs_ratelimited"
declare -A ST=()
snap()
{
	local t=$1 k v a b
	br_usr1 master
	for k in $DROPS hs_init; do
		v=$(br_total master "$k")
		[[ -n $v ]] || br_fail "master's stats line has no $k="
		ST[$t:$k]=$v
	done
	a=$(br_stat master a rx_packets)
	b=$(br_stat master b rx_packets)
	ST[$t:rx]=$((${a:-0} + ${b:-0}))
	ST[$t:in]=$(udp_mib "$BR_NS_MASTER" InDatagrams)
	ST[$t:rcvbuf]=$(udp_mib "$BR_NS_MASTER" RcvbufErrors)
}

delta()	# KEY [FROM TO]: its growth between two snaps (0 and 1)
{
	echo $((${ST[${3:-1}:$1]} - ${ST[${2:-0}:$1]}))
}

# flood_start: the two attacker runs (mix, replay of the captured
# initiation), until flood_stop; FLOOD_T0 is when they started.
declare -A FPID=()
flood_start()
{
	br_bg "$NS_ATK" "$BR_TMP/mix.out" "$FLOOD_BIN" "$TARGET" "$FLOOD_CAP" \
		"$MIX_PPS" mix
	FPID[mix]=$BR_LASTPID
	br_bg "$NS_ATK" "$BR_TMP/replay.out" "$FLOOD_BIN" "$TARGET" \
		"$FLOOD_CAP" "$REPLAY_PPS" replay "$INIT"
	FPID[replay]=$BR_LASTPID
	FLOOD_T0=$EPOCHREALTIME
}

flooding()	# still both running
{
	kill -0 "${FPID[mix]}" 2>/dev/null && kill -0 "${FPID[replay]}" 2>/dev/null
}

# flood_stop [SECONDS]: once the floods have run SECONDS, stop them (they
# must not have ended by themselves), check their exit and print their
# counts; adds to SENT_TOTAL and RX_TOTAL. FLOOD_T1 is when they stopped.
SENT_TOTAL=0 RX_TOTAL=0
flood_stop()
{
	local name out line sent rx left
	left=$(awk -v a="$FLOOD_T0" -v b="$EPOCHREALTIME" -v s="${1:-0}" \
		'BEGIN { d = s - (b - a); printf "%.2f", (d > 0 ? d : 0) }')
	sleep "$left"
	flooding || br_fail "a flood ended by itself ($FLOOD_CAP s cap) before the test was done"
	FLOOD_T1=$EPOCHREALTIME
	for name in mix replay; do
		out=$BR_TMP/$name.out
		br_kill "${FPID[$name]}"
		((BR_WAIT_RC == 0)) || br_fail "flood $name exited $BR_WAIT_RC: $(cat "$out")"
		line=$(grep -E '^sent=' "$out") ||
			br_fail "flood $name printed no counts: $(cat "$out")"
		sent=$(sed -E 's/^sent=([0-9]+).*/\1/' <<<"$line")
		rx=$(sed -E 's/.*received=([0-9]+).*/\1/' <<<"$line")
		printf '   flood %-6s %s\n' "$name:" "$line"
		((sent > 0)) || br_fail "flood $name sent nothing"
		SENT_TOTAL=$((SENT_TOTAL + sent))
		RX_TOTAL=$((RX_TOTAL + rx))
	done
	awk -v a="$FLOOD_T0" -v b="$FLOOD_T1" 'BEGIN {
		printf "   (asked: mix '"$MIX_PPS"' pps, replay '"$REPLAY_PPS"' pps, for %.1f s)\n", b - a }'
}

# --- set-up -------------------------------------------------------------------
br_topology 2
br_shape 1 "$RATE"
br_shape 2 "$RATE"
attacker_add
br_genkey
br_conf_master "$BR_TMP/master.conf"
br_conf_slave "$BR_TMP/slave.conf" "$TARGET" \
	"$(br_link_iface a u1)" "$(br_link_bind b 198.18.2.2)"
br_start master "$BR_TMP/master.conf"
br_wait_tun master
MPID=${BR_DPID[master]}
[[ $(cat "/proc/$MPID/comm") == braid ]] ||
	br_fail "pid $MPID is $(cat "/proc/$MPID/comm"), not braid"

# --- 1: capture the slave's handshake initiation off the wire ------------------
echo
echo "== 1. capture a real handshake initiation (type 0x81) on uplink 1 (inet: s1)"
PCAP=$BR_TMP/init.pcap
INIT=$BR_TMP/init.bin
br_bg "$BR_NS_INET" "$BR_TMP/capture.out" timeout 15 tcpdump -i s1 -n -U \
	-c 1 -w "$PCAP" "udp and dst port $BR_PORT and udp[9] = 0x81"
cap=$BR_LASTPID
br_wait_for 5 grep -q 'listening on' "$BR_TMP/capture.out" ||
	br_fail "tcpdump did not start: $(cat "$BR_TMP/capture.out")"
br_start slave "$BR_TMP/slave.conf"
br_wait_tun slave
br_slave_route_via_tun
br_wait_pid "$cap" 16 || br_fail "capture still running after 16 s"
((BR_WAIT_RC == 0)) || br_fail "no initiation (udp[9] = 0x81) on s1 within" \
	"15 s of the slave starting (tcpdump exit $BR_WAIT_RC)"
out=$(pcap_payload "$PCAP" "$INIT") || br_fail "cannot read $PCAP: $out"
echo "   captured: $out"
[[ $(stat -c %s "$INIT") -eq 72 ]] || br_fail "captured initiation is not 72 bytes"
br_wait_links_up slave 10 a b
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 3) > 0)) ||
	br_fail "no ping reply from srv ($BR_SRV_IP) through the tunnel"
br_log "srv answers ping through the tunnel"

# The attacker's capture: everything the master sends it. A ping shows the
# path back works and the capture sees it.
br_bg "$NS_ATK" "$BR_TMP/atk-tcpdump.out" timeout 90 tcpdump -i eth0 -n -l -q \
	"src host $BR_MASTER_IP"
atk_cap=$BR_LASTPID
br_wait_for 5 grep -q 'listening on' "$BR_TMP/atk-tcpdump.out" ||
	br_fail "attacker's tcpdump did not start: $(cat "$BR_TMP/atk-tcpdump.out")"
(($(br_ping "$NS_ATK" "$BR_MASTER_IP" 3) > 0)) ||
	br_fail "attacker cannot reach the master ($BR_MASTER_IP): setup broken"
br_wait_for 3 grep -q 'ICMP echo reply' "$BR_TMP/atk-tcpdump.out" ||
	br_fail "attacker's capture missed the master's ping replies: capture broken"
br_log "attacker reaches the master; its capture sees the master's packets"

# --- baseline: a transfer with no flood ----------------------------------------
# Also makes the master touch what a bulk transfer needs, so the memory
# baseline below holds it and any growth is the flood's.
echo
echo "== baseline: $((WARM_SIZE >> 20)) MiB transfer slave -> srv, no flood"
c0=$(cpu_ticks "$MPID")
br_transfer warm 7001 "$WARM_SIZE"
c1=$(cpu_ticks "$MPID")
WARM_SECS=$BR_XFER_SECS
awk -v s="$WARM_SIZE" -v t="$WARM_SECS" -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "   %.1f Mbit/s; master CPU %.0f%% of a core\n",
		s * 8 / t / 1e6, 100 * c / hz / t }'

# --- 2: the flood -------------------------------------------------------------
echo
echo "== 2. ${FLOOD_SECS} s flood of $TARGET from $ATK_IP (mix at $MIX_PPS pps +" \
	"the captured initiation at $REPLAY_PPS pps); $((SIZE >> 20)) MiB transfer under it"
snap 0
rss0=$(rss_kb "$MPID")
log0=$(grep -vc ' stats ' "${BR_LOG[master]}" || true)
downs0=$(br_log_count "${BR_LOG[slave]}" 'link [ab] \(id [0-9]+\) down')
c0=$(cpu_ticks "$MPID")
flood_start
sleep 1
br_transfer flooded 7002 "$SIZE"
flooding || br_fail "the transfer outlasted the flood: raise FLOOD_CAP"
flood_stop "$FLOOD_SECS"
c1=$(cpu_ticks "$MPID")
downs1=$(br_log_count "${BR_LOG[slave]}" 'link [ab] \(id [0-9]+\) down')
awk -v s="$SIZE" -v t="$BR_XFER_SECS" -v w="$WARM_SIZE" -v wt="$WARM_SECS" 'BEGIN {
	printf "   transfer: %.1f Mbit/s under the flood (baseline %.1f Mbit/s)\n",
		s * 8 / t / 1e6, w * 8 / wt / 1e6 }'
echo "   slave: $((downs1 - downs0)) link down event(s) during the flood"
awk -v a="$FLOOD_T0" -v b="$FLOOD_T1" -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {
	printf "   master CPU: %.2f s in %.1f s = %.0f%% of a core (flood + transfer; informational)\n",
		c / hz, b - a, 100 * c / hz / (b - a) }'
sleep 0.5	# let the master drain its socket
snap 1

line=""
for k in $DROPS hs_init; do
	line+=" $k=+$(delta "$k")"
done
echo "   master stats, growth during the flood:$line"
(($(delta malformed) > 0)) ||
	br_fail "garbage was not counted (malformed did not grow)"
(($(delta auth_fail) + $(delta stale_session) > 0)) ||
	br_fail "forged data was not counted (auth_fail, stale_session did not grow)"
(($(delta hs_bad) > 0)) ||
	br_fail "forged initiations were not counted (hs_bad did not grow)"
(($(delta hs_stale) > 0)) ||
	br_fail "the replayed initiation was not counted (hs_stale did not grow)"
echo "   ok: garbage (malformed), forged data (auth_fail/stale_session), forged" \
	"initiations (hs_bad) and the replay (hs_stale) are counted"

# Every datagram braid read is accepted (a link's rx_packets) or counted as
# a drop; the kernel counts what it read (InDatagrams) and what did not
# fit (RcvbufErrors).
counted=0
for k in $DROPS; do
	counted=$((counted + $(delta "$k")))
done
accepted=$(delta rx)
missing=$(($(delta in) - counted - accepted))
echo "   datagrams: the attacker sent $SENT_TOTAL; the master read $(delta in)" \
	"(its socket overflowed $(delta rcvbuf) times) and counted $counted dropped" \
	"+ $accepted accepted: $missing unaccounted"
((missing <= SLACK && missing >= -SLACK)) ||
	br_fail "$missing datagrams read by the master are counted neither as accepted nor as dropped"
echo "   ok: every datagram the master read is accounted for (within $SLACK)"

# --- 3: a handshake under fire --------------------------------------------------
echo
echo "== 3. the slave restarts during a new flood: its handshake gets through"
flood_start
br_stop slave
((BR_RC[slave] == 0)) || br_fail "braid slave exited with status ${BR_RC[slave]}"
br_start slave "$BR_TMP/slave.conf" "$BR_TMP/slave2.log"
br_wait_tun slave
br_slave_route_via_tun
br_wait_links_up slave 10 a b
pings=$(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 5)
echo "   ping slave -> srv through the tunnel under the flood: $pings/5 answered"
((pings > 0)) || br_fail "no ping through the tunnel after a handshake under the flood"
flooding || br_fail "the flood ended before the restarted slave was up: raise FLOOD_CAP"
flood_stop "$FIRE_SECS"
sleep 0.5
snap 2
echo "   master: hs_init=+$(delta hs_init 1 2) hs_stale=+$(delta hs_stale 1 2)" \
	"hs_bad=+$(delta hs_bad 1 2) hs_ratelimited=+$(delta hs_ratelimited 1 2)"

# --- 4: what the master did about it -------------------------------------------
echo
echo "== 4. the master after both floods"
rss1=$(rss_kb "$MPID")
echo "   VmRSS: ${rss0} kB before, ${rss1} kB after ($((rss1 - rss0)) kB)"
((rss1 - rss0 <= RSS_MARGIN)) ||
	br_fail "master grew by $((rss1 - rss0)) kB during the floods (limit $RSS_MARGIN kB)"

# Let the capture see anything late, then stop it.
sleep 1
br_kill "$atk_cap"
udp=$(grep -cE "IP $BR_MASTER_IP\.[0-9]+ > .*: UDP" "$BR_TMP/atk-tcpdump.out" || true)
all=$(grep -cE "IP $BR_MASTER_IP(\.[0-9]+)? > " "$BR_TMP/atk-tcpdump.out" || true)
echo "   master -> attacker: $udp UDP packet(s) (tcpdump on the attacker;" \
	"$all packet(s) of any kind, 3 of them replies to the control pings);" \
	"the flood sockets received $RX_TOTAL"
if ((udp > 0 || RX_TOTAL > 0)); then
	grep -E "IP $BR_MASTER_IP\.[0-9]+ > .*: UDP" "$BR_TMP/atk-tcpdump.out" |
		head -n 5 | sed 's/^/      /'
	br_fail "the master sent UDP to the attacker"
fi
echo "   ok: the master sent the attacker nothing"

log1=$(grep -vc ' stats ' "${BR_LOG[master]}" || true)
added=$((log1 - log0))
echo "   master log: $added line(s) written during the floods (stats lines aside)"
((added <= LOG_MAX)) || {
	grep -v ' stats ' "${BR_LOG[master]}" | tail -n 5 | sed 's/^/      /'
	br_fail "master wrote $added log lines during the floods (limit $LOG_MAX)"
}

br_running master || br_fail "braid master died"
pings=$(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 5)
echo "   ping slave -> srv through the tunnel after the floods: $pings/5 answered"
((pings > 0)) || br_fail "no ping through the tunnel after the floods"

# --- 5: clean shutdown ------------------------------------------------------------
echo
echo "== 5. SIGTERM to both daemons"
br_stop_pair
echo "   master exit stats:"
br_print_stats master
echo "   ok: both exited 0"

echo
echo "PASS: flood ($(br_elapsed)s)"
