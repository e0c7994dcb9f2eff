#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SOCKS5 links through "phones" on the home LAN, bonded with a direct uplink:
# dante relaying UDP (UDP ASSOCIATE, with and without username/password) and
# microsocks (CONNECT only, so the link falls back to a CONNECT stream). A
# transfer arrives intact with every link carrying a share; one survives a
# proxy restart, after which the link comes back by itself; a wrong password
# is named in the log without stopping the tunnel; both daemons exit cleanly.
# Usage: tests/integration/socks.sh path/to/braid
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

RATE=10mbit		# direct uplink and each phone's WAN, both directions
SIZE=$((20 << 20))	# bytes per transfer (20 MiB)
MIN_SHARE=10		# % of the links' bytes each link must carry
SOCKS_USER=braidsocks	# phone3's dante account (only dante ever sees it)
SOCKS_PASS=Tr0ub4dor-braid
ECHO_TCP=7100		# echo servers in master for the proxy checks
ECHO_UDP=7101

br_require_root
br_require_tools ip tc socat ss sha256sum awk python3 danted microsocks \
	openssl unshare date

PW_SUM=$(sha256sum /etc/passwd /etc/shadow)
P1=$(br_phone_proxy 1)
P2=$(br_phone_proxy 2)
P3=$(br_phone_proxy 3)
LINKS=(dsl phone1 phone2 phone3)

# count_re ERE: matching lines in the slave's log.
count_re()
{
	br_log_count "${BR_LOG[slave]}" "$1"
}

# count_above ERE N: true once the slave's log has more than N such lines.
count_above()
{
	(($(count_re "$1") > $2))
}

# last_line ERE: the last matching line of the slave's log.
last_line()
{
	grep -E -- "$1" "${BR_LOG[slave]}" | tail -n 1
}

# start_pair LINK-FRAGMENT...: fresh master and slave with these links.
start_pair()
{
	br_conf_master "$BR_TMP/master.conf"
	br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" "$@"
	br_start master "$BR_TMP/master.conf" "$BR_TMP/master-$RUN.log"
	br_wait_tun master
	br_start slave "$BR_TMP/slave.conf" "$BR_TMP/slave-$RUN.log"
	br_wait_tun slave
	br_slave_route_via_tun
}

# wan_bytes: tx bytes so far of the direct uplink (slave u1) and of each
# phone's WAN (phone side), in LINKS order.
wan_bytes()
{
	local i
	printf '%s' "$(br_ctr "$BR_NS_SLAVE" u1 tx_bytes)"
	for i in 1 2 3; do
		printf ' %s' "$(br_ctr "$(br_phone_ns "$i")" wan tx_bytes)"
	done
	echo
}

# --- set-up -----------------------------------------------------------------
br_topology 1
br_shape 1 "$RATE"
for i in 1 2 3; do
	br_phone_add "$i" "$RATE"
done
br_dante 1
br_microsocks 2
br_dante 3 "$SOCKS_USER" "$SOCKS_PASS"

# --- 0: the proxies themselves, before braid -----------------------------------
echo
echo "== 0. the proxies on their own (a SOCKS5 client in the slave; echo servers in master)"
br_bg "$BR_NS_MASTER" "$BR_TMP/echo-tcp.out" socat \
	"TCP4-LISTEN:$ECHO_TCP,bind=$BR_MASTER_IP,fork,reuseaddr" EXEC:cat
etcp=$BR_LASTPID
br_bg "$BR_NS_MASTER" "$BR_TMP/echo-udp.out" socat \
	"UDP4-RECVFROM:$ECHO_UDP,bind=$BR_MASTER_IP,fork" EXEC:cat
eudp=$BR_LASTPID
br_wait_listen "$BR_NS_MASTER" tcp "$ECHO_TCP"
br_wait_listen "$BR_NS_MASTER" udp "$ECHO_UDP"
TE=$BR_MASTER_IP:$ECHO_TCP
UE=$BR_MASTER_IP:$ECHO_UDP
# probe WANT-RC LABEL PROXY MODE TARGET [USER PASS]
probe()
{
	local want=$1 label=$2 out rc=0
	shift 2
	out=$(br_socks_probe "$BR_NS_SLAVE" "$@") || rc=$?
	printf '   %-34s %s\n' "$label:" "$out"
	((rc == want)) || br_fail "$label: probe exited $rc, want $want ($out)"
}
probe 0 "phone1 dante CONNECT" "$P1" connect "$TE"
probe 0 "phone1 dante UDP ASSOCIATE" "$P1" udp "$UE"
probe 0 "phone3 dante+auth CONNECT" "$P3" connect "$TE" "$SOCKS_USER" "$SOCKS_PASS"
probe 0 "phone3 dante+auth UDP ASSOCIATE" "$P3" udp "$UE" "$SOCKS_USER" "$SOCKS_PASS"
probe 1 "phone3 dante+auth, wrong password" "$P3" connect "$TE" "$SOCKS_USER" wrong
probe 0 "phone2 microsocks CONNECT" "$P2" connect "$TE"
probe 1 "phone2 microsocks UDP ASSOCIATE" "$P2" udp "$UE"
br_kill "$etcp"
br_kill "$eudp"
echo "   ok: dante relays TCP and UDP (with and without a password); microsocks only TCP"

# --- 1: bonding over a direct uplink and three phones ---------------------------
RUN=1
br_genkey
start_pair "$(br_link_iface dsl u1)" \
	"$(br_link_socks phone1 socks5 "$P1")" \
	"$(br_link_socks phone2 socks5 "$P2")" \
	"$(br_link_socks phone3 socks5 "$P3" username="$SOCKS_USER" password="$SOCKS_PASS")"
br_wait_links_up slave 20 "${LINKS[@]}"
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 3) > 0)) ||
	br_fail "no ping reply from srv ($BR_SRV_IP) through the tunnel"
br_log "srv answers ping through the tunnel"

echo
echo "== 1. $((SIZE >> 20)) MiB TCP transfer slave -> srv over dsl (u1) + phone1/phone3 (dante, UDP) + phone2 (microsocks), $RATE each"
for p in "phone1 $P1" "phone3 $P3"; do
	read -r name px <<<"$p"
	re="link $name: proxy $px: UDP relay at "
	line=$(last_line "$re") ||
		br_fail "slave never logged '$re...' for $name (dante relays UDP)"
	echo "   slave: $(cut -d' ' -f3- <<<"$line")"
done
re="link phone2: proxy $P2: refused UDP ASSOCIATE \\(command not supported\\); using a CONNECT stream"
(($(count_re "$re") >= 1)) ||
	br_fail "slave never logged the fallback for phone2 (microsocks refuses UDP ASSOCIATE); want '$re'"
echo "   slave: $(last_line "$re" | cut -d' ' -f3-)"
re="link phone2: proxy $P2: CONNECT stream to the master open"
(($(count_re "$re") >= 1)) || br_fail "slave never logged '$re'"
echo "   slave: $(last_line "$re" | cut -d' ' -f3-)"
# links are measured with padding when they come up, both ways; not one
# over a TCP stream (the master learns that it is one)
for role in slave master; do
	re="link dsl \\(id [0-9]+\\) measured: "
	br_wait_for 5 grep -qE -- "$re" "${BR_LOG[$role]}" ||
		br_fail "$role did not log '$re...' for dsl"
	(($(br_log_count "${BR_LOG[$role]}" "$re") == 1)) ||
		br_fail "$role logged '$re...' more than once for dsl"
	re="link phone2 \\(id [0-9]+\\) measured"
	(($(br_log_count "${BR_LOG[$role]}" "$re") == 0)) ||
		br_fail "$role measured phone2, a link over a TCP stream"
done
echo "   dsl measured both ways: $(grep -E "link dsl \\(id [0-9]+\\) measured" \
	"${BR_LOG[master]}" | tail -n 1 | cut -d' ' -f3-)"

read -r -a w0 <<<"$(wan_bytes)"
br_usr1 slave
b0=()
for l in "${LINKS[@]}"; do
	b0+=("$(br_stat slave "$l" tx_bytes)")
done
br_transfer xfer1 7001 "$SIZE"
read -r -a w1 <<<"$(wan_bytes)"
br_usr1 slave
awk -v s="$SIZE" -v t="$BR_XFER_SECS" 'BEGIN {
	printf "   throughput: %.2f MB/s (%.1f Mbit/s) for %d bytes in %.2f s\n",
		s / t / 1e6, s * 8 / t / 1e6, s, t }'

echo
echo "== 1b. share of the transfer per link (tx bytes at the direct uplink / the phone's WAN; braid link tx_bytes)"
total=0
for k in 0 1 2 3; do
	total=$((total + w1[k] - w0[k]))
done
devs=(u1 "phone1 wan" "phone2 wan" "phone3 wan")
for k in 0 1 2 3; do
	l=${LINKS[k]}
	v=$((w1[k] - w0[k]))
	b=$(($(br_stat slave "$l" tx_bytes) - ${b0[k]:-0}))
	awk -v n="$l" -v d="${devs[k]}" -v v="$v" -v t="$total" -v b="$b" 'BEGIN {
		printf "   %-7s %-11s %6.1f MB  %5.1f%%   braid tx_bytes %6.1f MB\n",
			n, "(" d ")", v / 1e6, 100 * v / t, b / 1e6 }'
done
for k in 0 1 2 3; do
	v=$((w1[k] - w0[k]))
	((v * 100 >= total * MIN_SHARE)) ||
		br_fail "link ${LINKS[k]} carried $v of $total bytes, under $MIN_SHARE%"
done
echo "   ok: each link carried >= $MIN_SHARE%"
# The fallback is logged once per connection to the proxy, not per packet.
n=$(count_re "link phone2: proxy $P2: (refused UDP ASSOCIATE|no UDP came back)")
opens=$(count_re "link phone2: proxy $P2: CONNECT stream to the master open")
((n <= opens)) ||
	br_fail "phone2's fallback logged $n times for $opens stream(s) opened"

# --- 2: a proxy restarted mid-transfer ----------------------------------------
echo
echo "== 2. $((SIZE >> 20)) MiB transfer; phone1's danted killed 2 s in, started again 1 s later"
ups=$(count_re "link phone1 \\(id [0-9]+\\) up")
re="link phone1 \\(id [0-9]+\\) down|link phone1: proxy $P1: connection to proxy lost"
downs=$(count_re "$re")
RESTART_T=
restart_phone1()
{
	br_proxy_stop 1
	br_log "phone1: dante stopped"
	sleep 1
	br_proxy_start 1
	RESTART_T=$EPOCHREALTIME
}
br_transfer xfer2 7002 "$SIZE" restart_phone1
awk -v s="$SIZE" -v t="$BR_XFER_SECS" 'BEGIN {
	printf "   completed: %.2f MB/s average\n", s / t / 1e6 }'
count_above "$re" "$downs" ||
	br_fail "slave never logged phone1 going down or 'connection to proxy lost'"
grep -E -- "$re|link phone1: proxy $P1: (retrying|unreachable)" "${BR_LOG[slave]}" |
	tail -n 6 | cut -d' ' -f3- | sed 's/^/   slave: /'
br_wait_for 30 count_above "link phone1 \\(id [0-9]+\\) up" "$ups" ||
	br_fail "link phone1 not up again 30 s after its proxy restarted"
line=$(last_line "link phone1 \\(id [0-9]+\\) up")
echo "   slave: $(cut -d' ' -f3- <<<"$line")"
awk -v a="$RESTART_T" -v b="$(br_log_epoch "$line")" 'BEGIN {
	printf "   recovered in %.1f s (proxy listening again -> link phone1 up)\n", b - a }'
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 3) > 0)) ||
	br_fail "no ping through the tunnel after phone1 came back"

echo
echo "   stopping both daemons (fresh pair for the next case)"
br_stop_pair

# --- 3: a link with the wrong password ----------------------------------------
RUN=3
echo
echo "== 3. an extra link phone3bad: phone3's dante with a wrong password"
start_pair "$(br_link_iface dsl u1)" \
	"$(br_link_socks phone1 socks5 "$P1")" \
	"$(br_link_socks phone2 socks5 "$P2")" \
	"$(br_link_socks phone3 socks5 "$P3" username="$SOCKS_USER" password="$SOCKS_PASS")" \
	"$(br_link_socks phone3bad socks5 "$P3" username="$SOCKS_USER" password=not-it)"
br_wait_links_up slave 20 "${LINKS[@]}"
re="link phone3bad: proxy $P3: authentication failed \\(wrong username or password\\?\\)"
br_wait_for 10 count_above "$re" 0 ||
	br_fail "slave did not log '$re' within 10 s"
first=$(grep -E -- "$re" "${BR_LOG[slave]}" | head -n 1)
echo "   slave: $(cut -d' ' -f3- <<<"$first")"
t_first=$(br_log_epoch "$first")
pings=$(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 20 0.2)
echo "   pings through the tunnel meanwhile: $pings/20 answered"
((pings >= 18)) || br_fail "only $pings of 20 pings answered beside the bad link"
br_transfer xfer3 7003 $((SIZE / 4))
# Rate limit: how many such lines in the 10 s from the first one?
sleep "$(awk -v a="$t_first" -v b="$EPOCHREALTIME" 'BEGIN {
	d = a + 10.5 - b; printf "%.1f", (d > 0 ? d : 0) }')"
n=0
while IFS= read -r line; do
	awk -v a="$t_first" -v b="$(br_log_epoch "$line")" 'BEGIN { exit !(b < a + 10) }' &&
		n=$((n + 1))
done < <(grep -E -- "$re" "${BR_LOG[slave]}")
tries=$(awk -v a="$t_first" '/authentication failed/ {
	t = substr($4, 2, length($4) - 2) + 0; if (t > a - 0.5 && t < a + 10) n++ }
	END { print n + 0 }' "$BR_TMP/dante3/danted.log")
echo "   'authentication failed' for phone3bad: $n line(s) in the 10 s from the first" \
	"($tries failed login(s) in dante's log)"
((n <= 5)) || br_fail "authentication failure logged $n times in 10 s; not rate-limited"
if (($(count_re "link phone3bad \\(id [0-9]+\\) up") > 0)); then
	br_fail "link phone3bad came up with a wrong password"
fi
echo "   ok: the bad link is named and stays down; the others carry the tunnel"

# --- 4: clean shutdown ----------------------------------------------------------
echo
echo "== 4. SIGTERM to both daemons"
br_stop_pair
echo "   slave exit stats:"
br_print_stats slave
echo "   ok: both exited 0"
[[ $(sha256sum /etc/passwd /etc/shadow) == "$PW_SUM" ]] ||
	br_fail "the host's /etc/passwd or /etc/shadow changed"
echo "   host /etc/passwd and /etc/shadow unchanged"

echo
echo "PASS: socks ($(br_elapsed)s)"
