#!/bin/sh
# SPDX-License-Identifier: MIT
# NAT on the VPS for a braid master: the slave's traffic leaves for the
# internet from the VPS's public address. In the master's config:
#
#   on_up = "/usr/local/share/doc/braid/examples/vps-nat.sh up";
#   on_down = "/usr/local/share/doc/braid/examples/vps-nat.sh down";
#
# braid runs these as root with BRAID_DEVICE (its TUN) and BRAID_ADDRESSES
# (the TUN's addresses, "ip/len ...") in the environment.
#
# Usage: vps-nat.sh up|down [PUBLIC-INTERFACE]
#   up    turns IP forwarding on (IPv6 too if the TUN has an IPv6 address)
#         and loads the nftables table "inet braid": connections that come
#         in on BRAID_DEVICE and go out of PUBLIC-INTERFACE (by default the
#         device of the IPv4 default route) are masqueraded.
#   down  deletes the table. Forwarding stays on: other services on the
#         machine may rely on it.
# The table is replaced, not added to, by each "up": one braid master per
# machine, or give each its own BRAID_NAT_TABLE. Connections are recognised
# by the conntrack mark bits BRAID_NAT_CTMARK (0x6272) being set.
# Needs nft (Debian: nftables) and ip (iproute2).
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

table=${BRAID_NAT_TABLE:-braid}
ctmark=${BRAID_NAT_CTMARK:-0x6272}

die()
{
	echo "vps-nat.sh: $*" >&2
	exit 1
}

# The device of the first IPv4 default route.
default_dev()
{
	ip -4 route show default | awk '
		{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }'
}

up()
{
	dev=${BRAID_DEVICE:-}
	[ -n "$dev" ] || die "BRAID_DEVICE is not set (run me from on_up)"
	pub=${1:-$(default_dev)}
	[ -n "$pub" ] || die "no default route: name the public interface"
	[ -e "/sys/class/net/$pub" ] || die "no interface $pub"
	[ "$pub" != "$dev" ] || die "the public interface is $dev itself"

	sysctl -qw net.ipv4.ip_forward=1
	case " ${BRAID_ADDRESSES:-} " in
	*:*)
		# a router ignores router advertisements unless accept_ra is
		# 2: keep the VPS's own IPv6 default route if it learned it so
		if [ "$(cat "/proc/sys/net/ipv6/conf/$pub/accept_ra")" = 1 ]; then
			sysctl -qw "net.ipv6.conf.$pub.accept_ra=2"
		fi
		sysctl -qw net.ipv6.conf.all.forwarding=1
		;;
	esac

	# Masquerading is decided in postrouting, where the incoming device
	# is no longer known: the connection is marked when it comes in.
	nft -f - <<EOF
table inet $table
delete table inet $table
table inet $table {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		iifname "$dev" ct state new ct mark set ct mark or $ctmark
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$pub" ct mark and $ctmark == $ctmark masquerade
	}
}
EOF
}

down()
{
	if nft list table inet "$table" >/dev/null 2>&1; then
		nft delete table inet "$table"
	fi
}

command -v nft >/dev/null || die "nft not found (Debian: apt install nftables)"
case ${1:-} in
up) shift; up "$@" ;;
down) down ;;
*) echo "usage: $0 up|down [PUBLIC-INTERFACE]" >&2; exit 2 ;;
esac
