# SPDX-License-Identifier: MIT
# Sourced by the benchmarks: lib.sh's namespaces, but each slave uplink
# passes through its own namespace running tests/tools/impair (rate, one-way
# delay, loss), like a DSL line or a 4G link.
#   bench_links "RATE DELAY_MS LOSS_PCT" ...   (one quoted triple per link)
#   bench_cut I / bench_restore I              (100 % loss both ways)
#   bench_ping_avg COUNT                       (RTT through the tunnel)
# Source it with ROOT (the repository) and BUILD (the build directory) set,
# or BR_BIN and BENCH_IMPAIR: it sources lib.sh with that build's braid and
# impair, and needs root.

BR_BIN=${BR_BIN:-$BUILD/braid}
BENCH_IMPAIR=${BENCH_IMPAIR:-$BUILD/tests/impair}
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
br_require_root

bench_links()
{
	local i=0 spec rate delay loss ns
	br_topology_ns
	for spec in "$@"; do
		i=$((i + 1))
		read -r rate delay loss <<<"$spec"
		ns="${BR_PFX}imp$i"
		br_ns_add "$ns"
		ip -n "$BR_NS_SLAVE" link add name "u$i" type veth peer name ia netns "$ns"
		ip -n "$ns" link add name ib type veth peer name "s$i" netns "$BR_NS_INET"
		ip -n "$BR_NS_SLAVE" addr add "198.18.$i.2/24" dev "u$i"
		ip -n "$BR_NS_INET" addr add "198.18.$i.1/24" dev "s$i"
		ip -n "$BR_NS_SLAVE" link set dev "u$i" up
		ip -n "$BR_NS_INET" link set dev "s$i" up
		ip -n "$ns" link set dev ia up
		ip -n "$ns" link set dev ib up
		br_bg "$ns" "$BR_TMP/impair$i.log" "$BENCH_IMPAIR" ia ib \
			--rate "$rate" --delay "$delay" --loss "$loss" \
			--queue "${BENCH_QUEUE:-100}" --ctl "$BR_TMP/impair$i.sock" --stats
		br_wait_for 5 grep -q ready "$BR_TMP/impair$i.log" ||
			br_fail "impair on uplink $i did not start"
		br_uplink_routes "$i"
	done
	BR_UPLINKS=$i
	br_topology_master
}

bench_ctl()	# I COMMAND
{
	echo "$2" | socat -t 2 - "UNIX-CONNECT:$BR_TMP/impair$1.sock" >/dev/null
}

bench_cut() { bench_ctl "$1" "both loss 100"; }
bench_restore() { bench_ctl "$1" "both loss ${2:-0}"; }

# bench_ping_avg COUNT: average RTT (ms) of pings slave -> master's TUN
# address, 0.2 s apart; nothing if none came back.
bench_ping_avg()
{
	br_in "$BR_NS_SLAVE" ping -q -c "$1" -i 0.2 -W 2 "$BR_TUN_MASTER" |
		awk -F/ '/^rtt/ { print $5 }'
}
