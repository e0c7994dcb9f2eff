#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# braid demo: a home with a DSL line and two phones on its Wi-Fi. braid bonds
# the DSL uplink with both phones' mobile data (each phone runs a SOCKS5 proxy
# app: dante on one, microsocks on the other) into one tunnel, all inside
# throw-away network namespaces, and measures it with iperf3.
#
#   sudo examples/demo.sh
#
# On a fresh Debian 12 it installs what is missing and builds braid first.
# Nothing outside the namespaces it creates is touched (apart from packages and
# the build/ directory), and everything is removed on exit, also on Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKGS=(meson ninja-build pkg-config gcc libev-dev libmnl-dev libconfig-dev
	libsodium-dev libcap-dev libjson-c-dev libmicrohttpd-dev libsystemd-dev
	libncurses-dev check iperf3 iproute2 socat dante-server microsocks)
NAMES=(dsl phone1 phone2)	# braid's links: the DSL line, the two phones
RATES=(16mbit 8mbit 6mbit)	# DSL, phone1's and phone2's mobile data
WEIGHTS=(16 8 6)		# used only by scheduler = "roundrobin"
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
	for t in meson ninja pkg-config gcc iperf3 ip socat danted microsocks; do
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
row() { printf '   %-55s -+%s\n' "$1 " "${2:-}"; }
row "home -- dsl (u1), ${RATES[0]}"
row "home -- Wi-Fi -- phone1 (dante) -- mobile, ${RATES[1]}" \
	"-- inet -- VPS (master) -- srv"
row "home -- Wi-Fi -- phone2 (microsocks) -- mobile, ${RATES[2]}" \
	"      (iperf3 server $BR_SRV_IP)"
cat <<EOF

   "home" runs the braid slave, the VPS the master. dsl is a plain UDP link;
   phone1's dante relays UDP (SOCKS5 UDP ASSOCIATE); phone2's microsocks only
   does SOCKS5 CONNECT, so braid falls back to a TCP stream through it. The
   home reaches srv only through the braid tunnel.
EOF
br_topology 1
br_shape 1 "${RATES[0]}"
br_phone_add 1 "${RATES[1]}"
br_phone_add 2 "${RATES[2]}"
br_dante 1
br_microsocks 2

br_genkey
br_conf_master "$BR_TMP/master.conf"
br_conf_slave "$BR_TMP/slave.conf" "$BR_MASTER_IP:$BR_PORT" \
	"$(br_link_iface dsl u1 "${WEIGHTS[0]}")" \
	"$(br_link_socks phone1 socks5 "$(br_phone_proxy 1)" weight="${WEIGHTS[1]}")" \
	"$(br_link_socks phone2 socks5 "$(br_phone_proxy 2)" weight="${WEIGHTS[2]}")"
say "Slave configuration ($BR_TMP/slave.conf)"
sed -e '/^key = /s/".*"/"<fresh key from braid genkey>"/' -e 's/^/   /' \
	"$BR_TMP/slave.conf"

say "Starting braid"
br_start master "$BR_TMP/master.conf"
br_wait_tun master
br_start slave "$BR_TMP/slave.conf"
br_wait_tun slave
br_slave_route_via_tun
br_wait_links_up slave 20 "${NAMES[@]}"
echo "   What the slave says about its proxies:"
grep -E 'link phone[12]: proxy ' "${BR_LOG[slave]}" | cut -d' ' -f3- |
	sed 's/^/     /'

br_bg "$BR_NS_SRV" "$BR_TMP/iperf3-server.log" iperf3 -s -B "$BR_SRV_IP"
br_wait_listen "$BR_NS_SRV" tcp 5201

# wan_bytes tx|rx: bytes so far where each link leaves the home: the DSL
# uplink (u1) and each phone's mobile side (wan), in NAMES order.
wan_bytes()
{
	echo "$(br_ctr "$BR_NS_SLAVE" u1 "$1_bytes")" \
		"$(br_ctr "$(br_phone_ns 1)" wan "$1_bytes")" \
		"$(br_ctr "$(br_phone_ns 2)" wan "$1_bytes")"
}

# link_bytes tx|rx: braid's own byte counters per link, in NAMES order.
link_bytes()
{
	local n
	br_usr1 slave
	for n in "${NAMES[@]}"; do
		printf '%s ' "$(br_stat slave "$n" "$1_bytes")"
	done
	echo
}

# run_iperf TITLE DIR [iperf3 flags]: DIR is tx (upload) or rx (download),
# the home-side counters that grow.
run_iperf()
{
	local title=$1 dir=$2 out total k
	local -a v0 v1 b0 b1
	shift 2
	say "$title: iperf3 for $SECS s through the tunnel"
	read -r -a v0 <<<"$(wan_bytes "$dir")"
	read -r -a b0 <<<"$(link_bytes "$dir")"

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

	read -r -a v1 <<<"$(wan_bytes "$dir")"
	read -r -a b1 <<<"$(link_bytes "$dir")"
	total=$(grep -E 'receiver' <<<"$out" | grep -Eo '[0-9.]+ Mbits/sec' | tail -n 1)

	echo
	echo "   $title throughput (received): ${total:-?}  (links: ${RATES[*]})"
	printf '   %-7s %-7s %-6s %16s %7s %18s %7s\n' link rate weight \
		"bytes on its way" share "braid link bytes" share
	for k in 0 1 2; do
		echo "${NAMES[k]} ${RATES[k]} ${WEIGHTS[k]} $((v1[k] - v0[k])) $((b1[k] - b0[k]))"
	done | awk '{ n[NR] = $0; v += $4; b += $5 }
		END {
			if (v == 0) v = 1
			if (b == 0) b = 1
			for (i = 1; i <= NR; i++) {
				split(n[i], f, " ")
				printf "   %-7s %-7s %-6s %13.1f MB %6.1f%% %15.1f MB %6.1f%%\n",
					f[1], f[2], f[3], f[4] / 1e6, 100 * f[4] / v,
					f[5] / 1e6, 100 * f[5] / b
			}
		}'
	echo "   (\"bytes on its way\": the DSL uplink u1 and each phone's mobile interface;"
	echo "    phone2's bytes include its TCP stream's own headers and ACKs.)"
}

run_iperf "Upload (home -> srv)" tx
run_iperf "Download (srv -> home, iperf3 -R)" rx -R

say "braid status (the slave, over its control socket)"
br_in "$BR_NS_SLAVE" "$BR_BIN" status -s "$BR_TMP/slave.sock" | sed 's/^/   /'
echo "   (live: ip netns exec $BR_NS_SLAVE $BR_BIN top -s $BR_TMP/slave.sock)"

say "Stopping braid"
br_stop_pair
echo "   braid's own counters at exit (slave):"
br_print_stats slave
echo
echo "Done. Namespaces, processes and temporary files are removed now."
