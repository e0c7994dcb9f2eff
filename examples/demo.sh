#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# braid demo: bond a 20 mbit and a 10 mbit uplink into one tunnel, all inside
# throw-away network namespaces, and measure it with iperf3.
#
#   sudo examples/demo.sh
#
# On a fresh Debian 12 it installs what is missing and builds braid first.
# Nothing outside the namespaces it creates is touched (apart from packages and
# the build/ directory), and everything is removed on exit, also on Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKGS=(meson ninja-build pkg-config gcc libev-dev libmnl-dev libconfig-dev
	libsodium-dev check iperf3 iproute2 socat)
RATE1=20mbit WEIGHT1=2	# uplink "dsl" (u1), bound by interface
RATE2=10mbit WEIGHT2=1	# uplink "cable" (u2), bound by source address
SECS=10

if [[ -t 1 ]]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "The demo creates network namespaces: run it as root (sudo $0)." >&2
	exit 1
fi

# --- packages and build -------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null; then
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
else
	for t in meson ninja pkg-config gcc iperf3 ip socat; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
fi
if ((${#missing[@]})); then
	say "Installing missing packages: ${missing[*]}"
	if ! command -v apt-get >/dev/null; then
		echo "No apt-get here; install these by hand: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q "${missing[@]}"
fi

cd "$ROOT"
if [[ ! -d build ]]; then
	say "Configuring the build (meson setup build)"
	meson setup build
fi
say "Building braid (ninja -C build braid)"
ninja -C build braid
BR_BIN=$ROOT/build/braid
[[ -x $BR_BIN ]] || { echo "no $BR_BIN after the build" >&2; exit 1; }

# --- topology -----------------------------------------------------------------
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"

say "Building the network (namespaces ${BR_PFX}*)"
cat <<EOF
   slave --u1 ($RATE1)--+
                        +-- inet --- master (VPS) --- srv (iperf3 server, 198.18.200.2)
   slave --u2 ($RATE2)--+
   The slave reaches srv only through the braid tunnel (10.77.0.2 -> 10.77.0.1).
EOF
br_topology 2
br_shape 1 "$RATE1"
br_shape 2 "$RATE2"

br_genkey
br_conf_master "$BR_TMP/master.conf"
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface dsl u1 "$WEIGHT1")" \
	"$(br_link_bind cable 198.18.2.2 "$WEIGHT2")"
say "Slave configuration ($BR_TMP/slave.conf)"
sed -e '/^key = /s/".*"/"<fresh key from braid genkey>"/' -e 's/^/   /' \
	"$BR_TMP/slave.conf"

say "Starting braid"
br_start master "$BR_TMP/master.conf"
br_wait_tun master
br_start slave "$BR_TMP/slave.conf"
br_wait_tun slave
br_slave_route_via_tun
br_wait_links_up slave 10 dsl cable

br_bg "$BR_NS_SRV" "$BR_TMP/iperf3-server.log" iperf3 -s -B "$BR_SRV_IP"
br_wait_listen "$BR_NS_SRV" tcp 5201

# run_iperf TITLE DIR [iperf3 flags]: DIR is tx (upload) or rx (download),
# the slave-side counters that grow.
run_iperf()
{
	local title=$1 dir=$2 out v1 v2 b1 b2 total
	shift 2
	say "$title: iperf3 for $SECS s through the tunnel"
	v1=$(br_ctr "$BR_NS_SLAVE" u1 "${dir}_bytes")
	v2=$(br_ctr "$BR_NS_SLAVE" u2 "${dir}_bytes")
	br_usr1 slave
	b1=$(br_stat slave dsl "${dir}_bytes")
	b2=$(br_stat slave cable "${dir}_bytes")

	# In the background, so Ctrl-C is acted on at once (see br_wait_pid).
	br_bg "$BR_NS_SLAVE" "$BR_TMP/iperf3-client.out" iperf3 -c "$BR_SRV_IP" \
		-t "$SECS" -i 2 -f m "$@"
	if ! br_wait_pid "$BR_LASTPID" $((SECS + 20)); then
		br_fail "iperf3 still running after $((SECS + 20)) s"
	fi
	out=$(cat "$BR_TMP/iperf3-client.out")
	if ((BR_WAIT_RC != 0)); then
		echo "$out" >&2
		br_fail "iperf3 exited with status $BR_WAIT_RC"
	fi
	sed -n '/ ID\] Interval/,$p' <<<"$out" | grep -v -e '^$' -e 'iperf Done' |
		sed 's/^/   /'

	v1=$(($(br_ctr "$BR_NS_SLAVE" u1 "${dir}_bytes") - v1))
	v2=$(($(br_ctr "$BR_NS_SLAVE" u2 "${dir}_bytes") - v2))
	br_usr1 slave
	b1=$(($(br_stat slave dsl "${dir}_bytes") - b1))
	b2=$(($(br_stat slave cable "${dir}_bytes") - b2))
	total=$(grep -E 'receiver' <<<"$out" | grep -Eo '[0-9.]+ Mbits/sec' | tail -n 1)

	echo
	echo "   $title throughput (received): ${total:-?}  (uplinks: $RATE1 + $RATE2)"
	printf '   %-8s %-4s %-7s %-6s %14s %7s %18s\n' uplink dev rate weight \
		"veth bytes" share "braid link bytes"
	awk -v a="$v1" -v b="$v2" -v ba="$b1" -v bb="$b2" \
		-v r1="$RATE1" -v r2="$RATE2" -v w1="$WEIGHT1" -v w2="$WEIGHT2" 'BEGIN {
		t = a + b; if (t == 0) t = 1
		f = "   %-8s %-4s %-7s %-6s %11.1f MB %6.1f%% %15.1f MB\n"
		printf f, "dsl", "u1", r1, w1, a / 1e6, 100 * a / t, ba / 1e6
		printf f, "cable", "u2", r2, w2, b / 1e6, 100 * b / t, bb / 1e6 }'
}

run_iperf "Upload (slave -> srv)" tx
run_iperf "Download (srv -> slave, iperf3 -R)" rx -R

say "Stopping braid"
br_stop slave
br_stop master
echo "   braid's own counters at exit (slave):"
br_print_stats slave
for role in slave master; do
	((BR_RC[$role] == 0)) || br_fail "braid $role exited with status ${BR_RC[$role]}"
done
echo
echo "Done. Namespaces, processes and temporary files are removed now."
