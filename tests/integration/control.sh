#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The control socket end to end: `braid status --json` checked against the
# running links on both sides; a SOCKS5 link added at run time carries
# traffic within seconds; `braid link set` changes roles and rate caps (the
# master follows); `braid link del` during a transfer loses nothing; SIGHUP
# applies a changed config; errors are clear; the socket goes with braid.
# Usage: tests/integration/control.sh path/to/braid
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

br_require_root
br_require_tools ip tc socat ss sha256sum awk python3 danted

br_topology 2
br_shape 1 20mbit
br_shape 2 20mbit
br_phone_add 1 20mbit
br_dante 1
br_genkey

SOCK=$BR_TMP/slave.sock
MSOCK=$BR_TMP/master.sock
ctl()	# braid CLIENT-ARGS... against the slave (from the slave's namespace)
{
	br_in "$BR_NS_SLAVE" "$BR_BIN" "$@" -s "$SOCK"
}

# js ROLE PYTHON-EXPR: evaluates EXPR with d = that side's status reply and
# L = its links by name; prints the result.
js()
{
	local sock=$SOCK ns=$BR_NS_SLAVE
	[[ $1 == master ]] && sock=$MSOCK ns=$BR_NS_MASTER
	br_in "$ns" "$BR_BIN" status --json -s "$sock" >"$BR_TMP/st.json" ||
		br_fail "braid status --json failed on the $1"
	python3 - "$BR_TMP/st.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
L = {l['name']: l for l in d['links']}
print(eval(sys.argv[2]))
PY
}

check()	# ROLE PYTHON-EXPR MESSAGE: fail unless EXPR is True
{
	[[ $(js "$1" "$2") == True ]] || br_fail "$1: $3 (status: $(cat "$BR_TMP/st.json"))"
}

br_conf_master "$BR_TMP/master.conf"
BR_SLAVE_EXTRA='metrics = "127.0.0.1:9477";'
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface a u1)" "$(br_link_iface b u2)"
br_start_pair a b

# --- 1. the socket and status --------------------------------------------------
echo
echo "== 1. status: the socket is root's, mode 0600; --json matches the links"
[[ $(stat -c '%a %U %F' "$SOCK") == "600 root socket" ]] ||
	br_fail "control socket is $(stat -c '%a %U %F' "$SOCK"), not 600 root socket"
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 50 0.02) >= 48)) ||
	br_fail "pings through the tunnel were lost"
sleep 1.2	# a rate sample
check slave "d['mode'] == 'slave' and d['device'] == '$BR_TUN' and sorted(L) == ['a', 'b']" \
	"mode, device or link names wrong"
check slave "all(L[n]['state'] == 'up' and L[n]['type'] == 'udp' and L[n]['address'] == '$BR_MASTER_IP:$BR_PORT' for n in L)" \
	"links not up, not udp, or the wrong master address"
check slave "L['a']['interface'] == 'u1' and L['b']['interface'] == 'u2' and L['a']['proxy'] is None" \
	"interfaces or proxy wrong"
check slave "all(L[n]['rtt_ms'] > 0 and L[n]['tx_bytes'] > 0 and L[n]['rx_bytes'] > 0 for n in L)" \
	"no RTT or no bytes counted"
check slave "sum(L[n]['tx_packets'] for n in L) >= 50 and d['total']['tun_rx_packets'] >= 50" \
	"the 50 pings are not counted"
check slave "d['uptime_s'] > 0 and 0 <= d['session_age_s'] < 130" "uptime or session age wrong"
check master "d['mode'] == 'master' and sorted(L) == ['a', 'b'] and all(L[n]['state'] == 'up' for n in L)" \
	"the master does not show the slave's links up"
check master "L['a']['address'].startswith('198.18.1.2:') and L['b']['address'].startswith('198.18.2.2:')" \
	"the master shows the wrong link addresses"
# the same figures over HTTP, from the daemon running as nobody
metrics=$(br_in "$BR_NS_SLAVE" python3 -c '
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9477/metrics", timeout=5).read().decode())') ||
	br_fail "no metrics at 127.0.0.1:9477"
grep -q '^braid_link_up{link="a",id="1"} 1$' <<<"$metrics" &&
	grep -q '^braid_link_up{link="b",id="2"} 1$' <<<"$metrics" &&
	grep -Eq '^braid_link_tx_bytes_total\{link="a",id="1"\} [1-9][0-9]*$' <<<"$metrics" ||
	br_fail "metrics do not show links a and b up with bytes: $(grep braid_link_up <<<"$metrics")"
table=$(ctl status)
grep -Eq '^ *a .*up' <<<"$table" && grep -Eq '^ *b .*up' <<<"$table" ||
	br_fail "the status table does not list a and b up: $table"
echo "   ok: json and table agree with the running links on both sides"

# --- 2. link add / set -----------------------------------------------------------
echo
echo "== 2. link add of a SOCKS5 proxy at run time; a and b made backups"
ctl link add c type=socks5 "proxy=$(br_phone_proxy 1)" ||
	br_fail "braid link add failed"
br_wait_link slave c up 10 || br_fail "added link c did not come up within 10 s"
ctl link set a backup=true >/dev/null
ctl link set b backup=true >/dev/null
check slave "L['c']['type'] == 'socks5' and L['c']['proxy'] == '$(br_phone_proxy 1)' and L['a']['backup'] and L['b']['backup']" \
	"link c or the backup flags are not shown"
c0=$(js slave "L['c']['tx_bytes']")
t0=$EPOCHREALTIME
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 100 0.01) >= 98)) ||
	br_fail "pings were lost after adding link c"
c1=$(js slave "L['c']['tx_bytes']")
echo "   link c carried $((c1 - c0)) bytes of 100 pings"
((c1 - c0 >= 100 * 84)) || br_fail "the added link did not carry the pings"
check master "'c' in L and L['c']['state'] == 'up' and L['a']['backup'] and L['b']['backup']" \
	"the master did not follow (link c, backup flags)"
echo "   ok: link c up and carrying data; the master follows"

echo
echo "== 3. link set rate: the cap shows on both sides"
ctl link set b backup=false rate=5mbit >/dev/null
ctl link set a backup=false >/dev/null
check slave "L['b']['rate_cap_bps'] == 5e6 and not L['b']['backup']" "rate cap not shown"
br_wait_for 3 bash -c "[[ \$(\"$BR_BIN\" status --json -s \"$MSOCK\" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([l[\"rate_cap_bps\"] for l in d[\"links\"] if l[\"name\"] == \"b\"][0])') == 5000000.0 ]]" ||
	br_fail "the master did not take b's rate cap"
ctl link set b rate=0 >/dev/null
echo "   ok"

# --- 4. link del during a transfer ------------------------------------------------
echo
echo "== 4. link del c in the middle of a transfer"
lost0=$(js master "d['total']['lost']")
br_transfer xfer 7101 $((32 << 20)) \
	'ctl link del c || br_fail "braid link del failed"'
lost1=$(js master "d['total']['lost']")
check slave "sorted(L) == ['a', 'b']" "link c still listed"
((lost1 == lost0)) || br_fail "the master gave up $((lost1 - lost0)) packets as lost"
echo "   ok: the transfer arrived intact, no hole given up ($lost0 -> $lost1)"

# --- 5. SIGHUP -----------------------------------------------------------------
echo
echo "== 5. SIGHUP: a's weight 3, b removed, d (u2) added"
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface a u1 3)" "$(br_link_iface d u2)"
kill -HUP "${BR_DPID[slave]}"
br_wait_for 5 br_log_has "${BR_LOG[slave]}" 'reload: 1 link\(s\) added, 1 removed, 1 changed' ||
	br_fail "no reload line in the log: $(grep reload "${BR_LOG[slave]}" | tail -n 3)"
br_wait_link slave d up 10 || br_fail "link d from the reloaded config did not come up"
check slave "sorted(L) == ['a', 'd'] and L['a']['weight'] == 3 and L['d']['interface'] == 'u2'" \
	"the reloaded config is not what runs"
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 50 0.02) >= 48)) ||
	br_fail "pings lost after the reload"
out=$(ctl reload) || br_fail "braid reload failed"
[[ $out == "reloaded: added 0 removed 0 changed 0" ]] ||
	br_fail "an unchanged config changed something: $out"
# a gone from the file: d moves to the first position but keeps its id
did=$(js slave "L['d']['id']")
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface d u2)"
out=$(ctl reload) || br_fail "braid reload failed"
[[ $out == "reloaded: added 0 removed 1 changed 0" ]] ||
	br_fail "removing the first link rebuilt the others: $out"
check slave "sorted(L) == ['d'] and L['d']['id'] == $did and L['d']['state'] == 'up'" \
	"link d lost its id or went down when a was removed"
echo "   ok: the change applied without a restart (tunnel kept: $(br_log_count "${BR_LOG[slave]}" 'braid .* slave on') start)"

# --- 6. errors -------------------------------------------------------------------
echo
echo "== 6. errors are clear"
expect_err()	# ERE CMD...: CMD fails with a message matching ERE
{
	local ere=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	((rc != 0)) || br_fail "'$*' succeeded"
	grep -Eq -- "$ere" <<<"$out" || br_fail "'$*' said: $out"
	echo "   $* -> $out"
}
expect_err 'no link named "zz"' ctl link del zz
expect_err "setting 'link.proxy'" ctl link add e type=socks5 proxy=nowhere
expect_err "link name 'd' used twice" ctl link add d type=udp interface=u1
expect_err "setting 'link.rate'" ctl link set d rate=fast
expect_err "cannot reach the daemon .*(No such file|is braid running)" \
	"$BR_BIN" status -s "$BR_TMP/none.sock"

# --- 7. stop ------------------------------------------------------------------------
echo
echo "== 7. the sockets go with braid"
br_stop_pair
br_wait_for 5 bash -c "[[ ! -e '$SOCK' && ! -e '$MSOCK' ]]" ||
	br_fail "control socket left behind: $(ls -l "$BR_TMP"/*.sock 2>&1)"
echo "   ok"
echo
echo "control: all checks passed"
