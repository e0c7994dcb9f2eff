#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `braid status` and `braid top` against a running slave: the table shows
# every link with its state, the JSON is whole; top (in a tmux of its own)
# shows every link, its state and the tunnel line, follows a link going
# down and a resize, says so when the daemon goes away, and q ends it
# cleanly. Without a daemon, status fails with a clear message.
# Usage: tests/integration/top.sh path/to/braid
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
	echo "usage: $0 BRAID-BINARY" >&2
	exit 2
fi
BR_BIN=$(realpath "$1")
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

br_require_root
br_require_tools ip tmux awk python3

# tmux: a server of our own (socket in the test's temp dir, no user
# config), killed on the way out before lib.sh's cleanup.
TMUX_SOCK=$BR_TMP/tmux.sock
tm()
{
	tmux -S "$TMUX_SOCK" -f /dev/null "$@"
}

top_cleanup()
{
	local rc=$?
	set +e
	tm kill-server 2>/dev/null || true
	set_rc "$rc"
	br_cleanup
}

set_rc()
{
	return "$1"
}

trap top_cleanup EXIT

SLAVE_SOCK=$BR_TMP/slave.sock
TOP_RC=$BR_TMP/top.rc

# capture: the pane as text.
capture()
{
	tm capture-pane -p -t top 2>/dev/null
}

# wait_screen SECONDS ERE...: until the pane has a line matching each ERE.
screen_has()
{
	local s re
	s=$(capture) || return 1
	for re in "$@"; do
		grep -Eq -- "$re" <<<"$s" || return 1
	done
}

wait_screen()
{
	local secs=$1
	shift
	br_wait_for "$secs" screen_has "$@" && return 0
	echo "---- the pane:" >&2
	capture >&2 || true
	return 1
}

session_alive()
{
	tm has-session -t top 2>/dev/null
}

session_gone()
{
	! session_alive
}

indent()
{
	sed 's/^/   | /'
}

# --- 1. no daemon -----------------------------------------------------------
echo
echo "== 1. braid status and braid top with no daemon listening"
rc=0
out=$("$BR_BIN" status -s "$BR_TMP/none.sock" 2>&1) || rc=$?
echo "   braid status: exit $rc: $out"
((rc == 1)) || br_fail "braid status without a daemon exited $rc, not 1"
[[ $out == *"$BR_TMP/none.sock"* && $out == *"cannot reach the daemon"* ]] ||
	br_fail "braid status without a daemon: unclear message: $out"
rc=0
out=$("$BR_BIN" top -s "$BR_TMP/none.sock" </dev/null 2>&1) || rc=$?
echo "   braid top, not on a terminal: exit $rc: $out"
if ((rc != 1)) || [[ $out != *terminal* ]]; then
	br_fail "braid top with stdout not a terminal: exit $rc: $out"
fi
echo "   ok"

# --- 2. a slave with two links ----------------------------------------------
br_topology 2
br_genkey
br_conf_master "$BR_TMP/master.conf"
BR_SLAVE_EXTRA='dead_time = 2;'
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface dsl u1)" "$(br_link_iface lte u2)"
br_start_pair dsl lte
(($(br_ping "$BR_NS_SLAVE" "$BR_SRV_IP" 50 0.02) >= 45)) ||
	br_fail "pings through the tunnel were lost"

echo
echo "== 2. braid status -s SOCKET / -c FILE / --json"
out=$(br_in "$BR_NS_SLAVE" "$BR_BIN" status -s "$SLAVE_SOCK") ||
	br_fail "braid status -s failed"
indent <<<"$out"
grep -Eq '^version [^ ]+  mode slave  device braid0  uptime ' <<<"$out" ||
	br_fail "braid status: no header line"
for l in dsl lte; do
	grep -Eq "^$l +up +udp +$BR_MASTER_IP:$BR_PORT +[0-9.]+ ms +[0-9.]+% " \
		<<<"$out" || br_fail "braid status: no row for link $l (up, udp)"
done
grep -Eq '^tunnel +sent [0-9.]+ [KMG]?i?B \(' <<<"$out" ||
	br_fail "braid status: no tunnel line"
grep -Eq '^reorder +held [0-9]+, late [0-9]+, lost [0-9]+, dup [0-9]+, early [0-9]+$' \
	<<<"$out" || br_fail "braid status: no reorder line"
out2=$("$BR_BIN" status -c "$BR_TMP/slave.conf") ||
	br_fail "braid status -c failed"
grep -Eq '^dsl +up ' <<<"$out2" || br_fail "braid status -c: no dsl row"
br_in "$BR_NS_SLAVE" "$BR_BIN" status --json -s "$SLAVE_SOCK" |
	python3 -c '
import json, sys
s = json.load(sys.stdin)
names = sorted(l["name"] for l in s["links"])
assert s["ok"] is True and s["mode"] == "slave", s
assert names == ["dsl", "lte"], names
assert all(l["state"] == "up" for l in s["links"]), s["links"]
assert s["total"]["tx_bytes"] > 0, s["total"]
' || br_fail "braid status --json: not the status object"
echo "   ok: a row per link, totals, -c and --json agree"

# --- 3. braid top in tmux ---------------------------------------------------
echo
echo "== 3. braid top in a 100x30 tmux pane"
tm new-session -d -s top -x 100 -y 30 \
	"ip netns exec '$BR_NS_SLAVE' '$BR_BIN' top -s '$SLAVE_SOCK'; echo \$? >'$TOP_RC'"
wait_screen 10 '^braid [^ ]+  slave braid0  up ' '^dsl +up ' '^lte +up ' \
	'^tunnel  tx ' '^drops  ' ||
	br_fail "braid top: no header, links or tunnel line"
capture | indent
screen_has '^dsl +up +[0-9.]+ ms +[0-9.]+% tx \[[# ]+\] +[0-9.]+ [kMG]?bit/s rx \[' ||
	br_fail "braid top: the dsl line has no RTT, loss or bars"
echo "   ok: header, both links up, bars, tunnel line"

ip -n "$BR_NS_SLAVE" link set dev u2 down
br_wait_link slave lte down 10 || br_fail "link lte did not go down"
wait_screen 5 '^lte +down ' '^dsl +up ' ||
	br_fail "braid top did not show lte going down"
capture | grep -E '^(LINK|dsl|lte) ' | indent
echo "   ok: lte down on screen within a refresh"

tm resize-window -t top -x 70 -y 20
wait_screen 5 '^dsl +up ' '^tunnel  tx ' ||
	br_fail "braid top: nothing after a resize to 70x20"
width=$(capture | awk '{ sub(/ +$/, ""); if (length > w) w = length } END { print w + 0 }')
((width <= 70)) || br_fail "braid top drew $width columns in a 70-column pane"
echo "   ok: redrawn at 70x20 (widest line $width)"

br_stop slave
wait_screen 5 '^daemon not answering: ' ||
	br_fail "braid top did not say the daemon is gone"
session_alive || br_fail "braid top exited when the daemon went away"
capture | head -n 3 | indent
echo "   ok: 'daemon not answering' while the slave is down, top still running"

tm send-keys -t top q
br_wait_for 5 session_gone || br_fail "braid top still running 5 s after q"
[[ $(cat "$TOP_RC" 2>/dev/null) == 0 ]] ||
	br_fail "braid top exited with status $(cat "$TOP_RC" 2>/dev/null)"
echo "   ok: q ended top (status 0) and its tmux session"

# Ctrl-C, with no daemon from the start
rm -f "$TOP_RC"
tm new-session -d -s top -x 100 -y 30 \
	"ip netns exec '$BR_NS_SLAVE' '$BR_BIN' top -s '$SLAVE_SOCK'; echo \$? >'$TOP_RC'"
wait_screen 5 '^braid top ' '^daemon not answering: ' ||
	br_fail "braid top started without a daemon did not say so"
tm send-keys -t top C-c
br_wait_for 5 session_gone || br_fail "braid top still running 5 s after Ctrl-C"
[[ $(cat "$TOP_RC" 2>/dev/null) == 0 ]] ||
	br_fail "braid top exited with status $(cat "$TOP_RC" 2>/dev/null) on Ctrl-C"
echo "   ok: Ctrl-C ended top (status 0), started with no daemon"

rc=0
out=$(br_in "$BR_NS_SLAVE" "$BR_BIN" status -s "$SLAVE_SOCK" 2>&1) || rc=$?
if ((rc != 1)) || [[ $out != *"cannot reach the daemon"* ]]; then
	br_fail "braid status after the slave stopped: exit $rc: $out"
fi
echo "   ok: braid status after the slave stopped: exit 1: $out"
br_stop master
echo
echo "top: ok"
