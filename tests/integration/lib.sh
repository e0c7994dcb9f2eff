# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034
# Network-namespace topology and daemon helpers for braid's integration tests
# and the demo. Source it after setting BR_BIN (path of the braid binary).
#
#   slave ─ u1 198.18.1.2 ══ s1 198.18.1.1 ─┐
#   slave ─ u2 198.18.2.2 ══ s2 198.18.2.1 ─┼─ inet ─ m0 198.18.0.1 ══ wan 198.18.0.2 ─ master
#  (slave ─ u3 198.18.3.2 ══ s3 198.18.3.1 ─┘)                master ─ lan 198.18.200.1 ══ eth0 198.18.200.2 ─ srv
#
# Optional "phones" (br_phone_add I, I = 1..3): a SOCKS5 proxy on the home
# LAN with a way out of its own, as a 4G phone on the home Wi-Fi has:
#
#   slave ─ pI 198.18.2I.2 ══ lan 198.18.2I.1 ─ phoneI ─ wan 198.18.3I.2 ══ wI 198.18.3I.1 ─ inet
#
# Tunnel: braid0 10.77.0.1/24 in master, 10.77.0.2/24 in slave; the slave
# reaches srv (198.18.200.0/24) through it. Every namespace name carries a
# per-run prefix, nothing touches the root namespace, and br_cleanup (run from
# the EXIT/INT/TERM traps installed here) removes every process and namespace.

export LC_ALL=C	# "1.5" in EPOCHREALTIME, awk and tool output alike
BR_BIN=${BR_BIN:-}
BR_PFX="br$$-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')-"
BR_NS_SLAVE="${BR_PFX}slave"
BR_NS_INET="${BR_PFX}inet"
BR_NS_MASTER="${BR_PFX}master"
BR_NS_SRV="${BR_PFX}srv"
BR_TUN=braid0
BR_MASTER_IP=198.18.0.2
BR_PORT=5555
BR_SRV_IP=198.18.200.2
BR_TUN_NET=10.77.0.0/24
BR_TUN_MASTER=10.77.0.1
BR_TUN_SLAVE=10.77.0.2
BR_TUN_V6=${BR_TUN_V6:-0}	# 1: also give the TUNs fd77::1/64 and fd77::2/64
BR_KEY=
BR_UPLINKS=0
BR_NAMESPACES=()
declare -A BR_LIVE=()	# pid -> description, for every process we started
declare -A BR_DPID=()	# role (master|slave) -> daemon pid
declare -A BR_LOG=()	# role -> daemon log file
declare -A BR_RC=()	# role -> daemon exit status after br_stop
declare -A BR_PROXY=()	# phone -> dante|microsocks, set by br_dante/br_microsocks
declare -A BR_PROXY_PID=()	# phone -> pid of its running proxy
BR_PROXY_PORT=1080
BR_LASTPID=
BR_WAIT_RC=
BR_T0=${EPOCHREALTIME}
BR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/braid-it.XXXXXX")

br_log()
{
	printf '[%6.1fs] %s\n' "$(br_elapsed)" "$*"
}

br_fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

br_elapsed()
{
	awk -v a="$BR_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

br_require_root()
{
	[[ $(id -u) -eq 0 ]] || br_fail "must run as root (network namespaces)"
}

br_require_tools()
{
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || br_fail "missing tool: $t"
	done
}

# br_in NS CMD... runs CMD inside namespace NS.
br_in()
{
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

br_ns_add()
{
	local ns=$1
	ip netns add "$ns"
	BR_NAMESPACES+=("$ns")
	ip -n "$ns" link set dev lo up
	# Asymmetric paths are the point of the exercise: no reverse-path filter.
	br_in "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
}

# br_veth NS1 DEV1 ADDR1 NS2 DEV2 ADDR2 (addresses as ip/len)
br_veth()
{
	ip -n "$1" link add name "$2" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set dev "$2" up
	ip -n "$4" link set dev "$5" up
}

# br_topology [UPLINKS] builds the four namespaces with 1..3 slave uplinks.
br_topology()
{
	local n=${1:-2} i
	((n >= 1 && n <= 3)) || br_fail "br_topology: 1..3 uplinks, not $n"
	BR_UPLINKS=$n
	br_topology_ns
	for ((i = 1; i <= n; i++)); do
		br_veth "$BR_NS_SLAVE" "u$i" "198.18.$i.2/24" \
			"$BR_NS_INET" "s$i" "198.18.$i.1/24"
		br_uplink_routes "$i"
	done
	br_topology_master
	br_log "topology up: namespaces ${BR_PFX}{slave,inet,master,srv}, $n uplink(s)"
}

# The four namespaces, inet and master forwarding (br_topology's first
# half; the benchmarks put their own uplinks in between).
br_topology_ns()
{
	br_ns_add "$BR_NS_SLAVE"
	br_ns_add "$BR_NS_INET"
	br_ns_add "$BR_NS_MASTER"
	br_ns_add "$BR_NS_SRV"
	br_in "$BR_NS_INET" sysctl -qw net.ipv4.ip_forward=1
	br_in "$BR_NS_MASTER" sysctl -qw net.ipv4.ip_forward=1
}

# The master on the internet, srv behind it (br_topology's second half).
br_topology_master()
{
	br_veth "$BR_NS_MASTER" wan "$BR_MASTER_IP/24" \
		"$BR_NS_INET" m0 198.18.0.1/24
	ip -n "$BR_NS_MASTER" route add default via 198.18.0.1 dev wan
	br_veth "$BR_NS_SRV" eth0 "$BR_SRV_IP/24" \
		"$BR_NS_MASTER" lan 198.18.200.1/24
	ip -n "$BR_NS_SRV" route add "$BR_TUN_NET" via 198.18.200.1 dev eth0
}

# br_uplink_routes I (re)installs uplink I's routes in the slave: the master's
# network through it (metric 100*I, so an interface-bound socket finds a route
# per device) and table 100+I for packets sourced from its address.
br_uplink_routes()
{
	local i=$1 ns=$BR_NS_SLAVE
	ip -n "$ns" route replace 198.18.0.0/24 via "198.18.$i.1" dev "u$i" \
		metric $((100 * i))
	ip -n "$ns" route replace default via "198.18.$i.1" dev "u$i" \
		table $((100 + i))
	ip -n "$ns" rule del from "198.18.$i.2" table $((100 + i)) \
		pref $((1000 + i)) 2>/dev/null || true
	ip -n "$ns" rule add from "198.18.$i.2" table $((100 + i)) \
		pref $((1000 + i))
}

# br_shape I RATE puts a tbf on both ends of uplink I (e.g. RATE=20mbit).
br_shape()
{
	local i=$1 rate=$2
	tc -n "$BR_NS_SLAVE" qdisc replace dev "u$i" root tbf rate "$rate" \
		burst 32kbit latency 100ms
	tc -n "$BR_NS_INET" qdisc replace dev "s$i" root tbf rate "$rate" \
		burst 32kbit latency 100ms
}

# --- phones: SOCKS5 proxies on the home LAN ------------------------------------

br_phone_ns()	# I -> namespace of phone I
{
	echo "${BR_PFX}phone$1"
}

br_phone_proxy()	# I -> "host:port" of phone I's proxy, as the slave sees it
{
	echo "198.18.$((20 + $1)).1:$BR_PROXY_PORT"
}

# br_phone_add I [RATE]: phone I (1..3), after br_topology: a LAN veth to the
# slave (pI) and a WAN veth to inet (wI), default route via inet, no
# forwarding (it is a proxy, not a router). RATE shapes its WAN.
br_phone_add()
{
	local i=$1 ns
	((i >= 1 && i <= 3)) || br_fail "br_phone_add: phone 1..3, not $i"
	ns=$(br_phone_ns "$i")
	br_ns_add "$ns"
	br_in "$ns" sysctl -qw net.ipv4.ip_forward=0
	br_veth "$BR_NS_SLAVE" "p$i" "198.18.$((20 + i)).2/24" \
		"$ns" lan "198.18.$((20 + i)).1/24"
	br_veth "$ns" wan "198.18.$((30 + i)).2/24" \
		"$BR_NS_INET" "w$i" "198.18.$((30 + i)).1/24"
	ip -n "$ns" route add default via "198.18.$((30 + i)).1" dev wan
	[[ -n ${2:-} ]] && br_phone_shape "$i" "$2"
	br_log "phone$i up: LAN 198.18.$((20 + i)).1 (slave: p$i), WAN 198.18.$((30 + i)).2 (inet: w$i)${2:+, $2}"
}

# br_phone_shape I RATE puts a tbf on both ends of phone I's WAN.
br_phone_shape()
{
	local i=$1 rate=$2
	tc -n "$(br_phone_ns "$i")" qdisc replace dev wan root tbf rate "$rate" \
		burst 32kbit latency 100ms
	tc -n "$BR_NS_INET" qdisc replace dev "w$i" root tbf rate "$rate" \
		burst 32kbit latency 100ms
}

# br_dante I [USER PASS]: write phone I's danted.conf (method "username" when
# USER is given) and start danted. dante checks usernames against the system
# password database: USER goes into copies of /etc/passwd and /etc/shadow
# that only this danted sees (bind mounts in a mount namespace of its own),
# so the host's user database is never touched.
br_dante()
{
	local i=$1 user=${2:-} pass=${3:-} d=$BR_TMP/dante$1 method=none
	mkdir -p "$d"
	if [[ -n $user ]]; then
		method=username
		cp /etc/passwd "$d/passwd"
		cp -p /etc/shadow "$d/shadow"
		echo "$user:x:65533:65534:braid test user:/nonexistent:/usr/sbin/nologin" \
			>>"$d/passwd"
		echo "$user:$(openssl passwd -6 "$pass"):19000:0:99999:7:::" >>"$d/shadow"
		chmod 644 "$d/passwd"
	fi
	cat >"$d/danted.conf" <<EOF
logoutput: $d/danted.log
internal: 198.18.$((20 + i)).1 port = $BR_PROXY_PORT
external: 198.18.$((30 + i)).2
clientmethod: none
socksmethod: $method
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	log: error
}
socks pass {
	from: 0.0.0.0/0 to: 0.0.0.0/0
	command: bind connect udpassociate bindreply udpreply
	log: error connect disconnect
}
EOF
	BR_PROXY[$i]=dante
	br_proxy_start "$i"
}

# br_microsocks I: microsocks on phone I (CONNECT only, no authentication).
br_microsocks()
{
	BR_PROXY[$1]=microsocks
	br_proxy_start "$1"
}

# br_proxy_start I: (re)start phone I's proxy as br_dante or br_microsocks
# set it up, in the foreground of a session of its own (pid in
# BR_PROXY_PID[I]), and wait until it listens.
br_proxy_start()
{
	local i=$1 ns d=$BR_TMP/dante$1 out
	ns=$(br_phone_ns "$i")
	case ${BR_PROXY[$i]:-} in
	dante)
		out=$d/danted.out
		if [[ -f $d/passwd ]]; then
			# shellcheck disable=SC2016
			br_bg "$ns" "$out" unshare -m sh -c \
				'mount --bind "$1/passwd" /etc/passwd &&
				 mount --bind "$1/shadow" /etc/shadow &&
				 exec danted -f "$1/danted.conf" -p "$1/danted.pid" -N 1' \
				_ "$d"
		else
			br_bg "$ns" "$out" danted -f "$d/danted.conf" \
				-p "$d/danted.pid" -N 1
		fi
		;;
	microsocks)
		out=$BR_TMP/microsocks$i.out
		br_bg "$ns" "$out" microsocks -i "198.18.$((20 + i)).1" \
			-p "$BR_PROXY_PORT"
		;;
	*) br_fail "br_proxy_start: no proxy set up on phone $i" ;;
	esac
	BR_PROXY_PID[$i]=$BR_LASTPID
	br_wait_listen "$ns" tcp "$BR_PROXY_PORT"
	kill -0 "$BR_LASTPID" 2>/dev/null ||
		br_fail "phone$i: ${BR_PROXY[$i]} exited: $(tail -n 5 "$out")"
	br_log "phone$i: ${BR_PROXY[$i]} listening on $(br_phone_proxy "$i") (pid $BR_LASTPID)"
}

# br_proxy_stop I: stop phone I's proxy and everything it forked (the phone
# runs nothing else), as when the proxy app on a phone is killed.
br_proxy_stop()
{
	local i=$1 ns
	ns=$(br_phone_ns "$i")
	br_kill "${BR_PROXY_PID[$i]}"
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	# shellcheck disable=SC2016
	br_wait_for 3 bash -c '[[ -z $(ip netns pids "$1") ]]' _ "$ns" ||
		br_fail "phone$i: processes left after stopping ${BR_PROXY[$i]}"
	unset "BR_PROXY_PID[$i]"
}

# br_socks_probe NS PROXY connect|udp|udp-addr HOST:PORT [USER PASS]: a
# SOCKS5 client (RFC 1928/1929) in NS. connect: CONNECT to HOST:PORT, expect
# a line echoed; udp: UDP ASSOCIATE announcing 0.0.0.0:0 (udp-addr: the
# client's real UDP address), expect a datagram echoed through the relay.
# Prints one line; 0 on success, 1 when the proxy said no, 2 when nothing
# (or garbage) came back.
br_socks_probe()
{
	br_in "$1" python3 - "${@:2}" <<'EOF'
import socket, struct, sys
proxy, mode, target = sys.argv[1], sys.argv[2], sys.argv[3]
user, pw = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
REPLY = {1: 'general failure', 2: 'not allowed by ruleset',
         3: 'network unreachable', 4: 'host unreachable',
         5: 'connection refused', 6: 'TTL expired',
         7: 'command not supported', 8: 'address type not supported'}

def hostport(s):
    h, p = s.rsplit(':', 1)
    return h, int(p)

def recvn(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError('proxy closed the connection')
        b += c
    return b

def v4(ip, port):
    return b'\x01' + socket.inet_aton(ip) + struct.pack('!H', port)

def done(rc, msg):
    print(msg)
    sys.exit(rc)

px, dst = hostport(proxy), hostport(target)
try:
    c = socket.create_connection(px, timeout=5)
    c.sendall(b'\x05\x01' + (b'\x02' if user else b'\x00'))
    meth = recvn(c, 2)[1]
    if meth == 0xff:
        done(1, 'no acceptable method (offered %s)' % ('username' if user else 'none'))
    if meth == 2:
        c.sendall(b'\x01' + bytes([len(user)]) + user.encode() +
                  bytes([len(pw)]) + pw.encode())
        st = recvn(c, 2)[1]
        if st != 0:
            done(1, 'authentication failed (status 0x%02x)' % st)
    if mode == 'connect':
        c.sendall(b'\x05\x01\x00' + v4(*dst))
    else:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((c.getsockname()[0], 0))
        ann = u.getsockname() if mode == 'udp-addr' else ('0.0.0.0', 0)
        c.sendall(b'\x05\x03\x00' + v4(*ann))
    rep, atyp = recvn(c, 4)[1::2]
    if rep != 0:
        done(1, 'reply 0x%02x (%s)' % (rep, REPLY.get(rep, 'unassigned')))
    if atyp != 1:
        done(2, 'reply with address type %d' % atyp)
    bnd = (socket.inet_ntoa(recvn(c, 4)), struct.unpack('!H', recvn(c, 2))[0])
    if mode == 'connect':
        c.sendall(b'braid probe\n')
        got = b''
        while not got.endswith(b'\n'):
            k = c.recv(100)
            if not k:
                break
            got += k
        if got != b'braid probe\n':
            done(2, 'CONNECT to %s:%d: no echo' % dst)
        done(0, 'CONNECT to %s:%d: echoed; BND %s:%d' % (dst + bnd))
    relay = bnd if bnd[0] != '0.0.0.0' else (px[0], bnd[1])
    u.settimeout(2)
    for _ in range(3):
        u.sendto(b'\x00\x00\x00' + v4(*dst) + b'braid probe', relay)
        try:
            d, frm = u.recvfrom(2048)
        except socket.timeout:
            continue
        if d[:4] != b'\x00\x00\x00\x01' or d[10:] != b'braid probe':
            done(2, 'UDP relay %s:%d: bad reply %r' % (relay + (d[:16],)))
        src = (socket.inet_ntoa(d[4:8]), struct.unpack('!H', d[8:10])[0])
        done(0, 'UDP ASSOCIATE (announced %s:%d): relay at BND %s:%d; echo '
             'came back from %s:%d (header: %s:%d)' % (ann + bnd + frm + src))
    done(2, 'UDP ASSOCIATE (announced %s:%d): relay at BND %s:%d; no echo in 6 s'
         % (ann + bnd))
except (OSError, EOFError) as e:
    done(2, 'error: %s' % e)
EOF
}

br_genkey()
{
	BR_KEY=$("$BR_BIN" genkey) || br_fail "braid genkey failed"
	[[ $(printf '%s' "$BR_KEY" | base64 -d 2>/dev/null | wc -c) -eq 32 ]] ||
		br_fail "braid genkey printed '$BR_KEY', not a base64 32-byte key"
}

# Link fragments for br_conf_slave.
br_link_iface()	# NAME DEV [WEIGHT]
{
	printf '{ name = "%s"; type = "udp"; interface = "%s"; weight = %s; }' \
		"$1" "$2" "${3:-1}"
}

br_link_bind()	# NAME ADDR [WEIGHT]
{
	printf '{ name = "%s"; type = "udp"; bind = "%s"; weight = %s; }' \
		"$1" "$2" "${3:-1}"
}

# br_link_socks NAME TYPE PROXY [KEY=VALUE...]: a socks5 or socks5-tcp link,
# e.g. username=u password=p fallback=false weight=2 (numbers and booleans
# go unquoted).
br_link_socks()
{
	local kv k v
	printf '{ name = "%s"; type = "%s"; proxy = "%s";' "$1" "$2" "$3"
	for kv in "${@:4}"; do
		k=${kv%%=*} v=${kv#*=}
		if [[ $v =~ ^([0-9]+|true|false)$ ]]; then
			printf ' %s = %s;' "$k" "$v"
		else
			printf ' %s = "%s";' "$k" "$v"
		fi
	done
	printf ' }'
}

br_tun_addrs()	# 1|2 -> libconfig address list
{
	if [[ $BR_TUN_V6 == 1 ]]; then
		printf '[ "10.77.0.%s/24", "fd77::%s/64" ]' "$1" "$1"
	else
		printf '[ "10.77.0.%s/24" ]' "$1"
	fi
}

# br_conf_master FILE [EXTRA-LINE...]; uses $BR_KEY.
br_conf_master()
{
	local f=$1
	shift
	{
		echo 'mode = "master";'
		echo "key = \"$BR_KEY\";"
		echo "tun = { name = \"$BR_TUN\"; address = $(br_tun_addrs 1); };"
		echo "listen = \":$BR_PORT\";"
		echo "control = \"$BR_TMP/master.sock\";"
		printf '%s\n' "$@"
	} >"$f"
}

# br_conf_slave FILE MASTER-HOST:PORT LINK-FRAGMENT... ; uses $BR_KEY.
# Put extra settings (dead_time = ...) in BR_SLAVE_EXTRA.
br_conf_slave()
{
	local f=$1 master=$2 sep="" l
	shift 2
	{
		echo 'mode = "slave";'
		echo "key = \"$BR_KEY\";"
		echo "tun = { name = \"$BR_TUN\"; address = $(br_tun_addrs 2); };"
		echo "master = \"$master\";"
		echo "control = \"$BR_TMP/slave.sock\";"
		[[ -n ${BR_SLAVE_EXTRA:-} ]] && printf '%s\n' "$BR_SLAVE_EXTRA"
		echo 'links = ('
		for l in "$@"; do
			printf '%s  %s' "$sep" "$l"
			sep=$',\n'
		done
		printf '\n);\n'
	} >"$f"
}

# br_bg NS OUT CMD... starts CMD in NS in the background, stdout+stderr to
# OUT; its pid lands in BR_LASTPID and is killed by br_cleanup. CMD gets a
# session of its own (setsid execs in place: same pid), so a Ctrl-C reaches
# only this script, whose trap then stops everything in order.
br_bg()
{
	local ns=$1 out=$2
	shift 2
	ip netns exec "$ns" setsid -w "$@" >"$out" 2>&1 &
	BR_LASTPID=$!
	BR_LIVE[$BR_LASTPID]="$*"
}

# br_wait_pid PID SECONDS: 0 once PID has exited (status in BR_WAIT_RC),
# 1 if it is still running after SECONDS.
br_wait_pid()
{
	local pid=$1 end
	end=$(awk -v t="$EPOCHREALTIME" -v s="$2" 'BEGIN { printf "%.3f", t + s }')
	while kill -0 "$pid" 2>/dev/null; do
		if awk -v t="$EPOCHREALTIME" -v e="$end" 'BEGIN { exit !(t > e) }'; then
			return 1
		fi
		sleep 0.05
	done
	BR_WAIT_RC=0
	wait "$pid" 2>/dev/null || BR_WAIT_RC=$?
	unset "BR_LIVE[$pid]"
	return 0
}

# br_kill PID [SIG]: signal, wait up to 5 s, then SIGKILL. Status in BR_WAIT_RC.
br_kill()
{
	local pid=$1
	kill "-${2:-TERM}" "$pid" 2>/dev/null || true
	if ! br_wait_pid "$pid" 5; then
		kill -KILL "$pid" 2>/dev/null || true
		br_wait_pid "$pid" 2 || true
	fi
}

# br_wait_for SECONDS CMD...: poll CMD every 0.1 s; 0 once it succeeds.
br_wait_for()
{
	local secs=$1 end
	shift
	end=$(awk -v t="$EPOCHREALTIME" -v s="$secs" 'BEGIN { printf "%.3f", t + s }')
	until "$@"; do
		if awk -v t="$EPOCHREALTIME" -v e="$end" 'BEGIN { exit !(t > e) }'; then
			return 1
		fi
		sleep 0.1
	done
}

br_ns_of()	# role -> namespace
{
	case $1 in
	master) echo "$BR_NS_MASTER" ;;
	slave) echo "$BR_NS_SLAVE" ;;
	*) br_fail "unknown role $1" ;;
	esac
}

# br_start ROLE CONF [LOG]: braid run in the role's namespace, in background.
br_start()
{
	local role=$1 conf=$2 log=${3:-$BR_TMP/$1.log} ns
	ns=$(br_ns_of "$role")
	BR_LOG[$role]=$log
	br_bg "$ns" "$log" "$BR_BIN" run -c "$conf"
	BR_DPID[$role]=$BR_LASTPID
	br_log "started braid $role (pid $BR_LASTPID, log $log)"
}

br_running()	# ROLE
{
	kill -0 "${BR_DPID[$1]}" 2>/dev/null
}

br_tun_up()	# NS
{
	local l
	l=$(ip -n "$1" -o link show dev "$BR_TUN" 2>/dev/null) || return 1
	[[ $l =~ [\<,]UP[,\>] ]]
}

# br_wait_tun ROLE [SECONDS]: wait until the daemon's TUN device is up.
br_wait_tun()
{
	local role=$1 ns
	ns=$(br_ns_of "$role")
	br_wait_for "${2:-5}" br_tun_up "$ns" && return 0
	br_running "$role" || br_fail "braid $role exited during start-up" \
		"(log: $(tail -n 5 "${BR_LOG[$role]}"))"
	br_fail "braid $role: $BR_TUN not up after ${2:-5}s"
}

# Route srv's network through the slave's TUN (once it exists).
br_slave_route_via_tun()
{
	br_wait_for 5 ip -n "$BR_NS_SLAVE" route replace 198.18.200.0/24 \
		dev "$BR_TUN" 2>/dev/null ||
		br_fail "cannot route 198.18.200.0/24 via $BR_TUN in slave"
}

br_log_has()	# FILE ERE
{
	grep -Eq -- "$2" "$1" 2>/dev/null
}

br_log_count()	# FILE ERE
{
	grep -Ec -- "$2" "$1" 2>/dev/null || true
}

# br_wait_link ROLE NAME up|down [SECONDS] [MIN-COUNT]: wait for the
# MIN-COUNT'th "link NAME (id N) up|down" line in the role's log.
br_wait_link()
{
	local role=$1 name=$2 st=$3 secs=${4:-10} min=${5:-1} re
	re="link $name \\(id [0-9]+\\) $st"
	# shellcheck disable=SC2016
	br_wait_for "$secs" bash -c '(( $(grep -Ec -- "$1" "$2" 2>/dev/null || true) >= $3 ))' \
		_ "$re" "${BR_LOG[$role]}" "$min"
}

br_wait_links_up()	# ROLE SECONDS NAME...
{
	local role=$1 secs=$2 n
	shift 2
	for n in "$@"; do
		br_wait_link "$role" "$n" up "$secs" ||
			br_fail "braid $role: link $n not up after ${secs}s"
	done
	br_log "braid $role: link(s) $* up"
}

# br_usr1 ROLE: ask the daemon for its stats and wait until they are logged.
br_usr1()
{
	local role=$1 log=${BR_LOG[$1]} before
	before=$(br_log_count "$log" 'stats total ')
	kill -USR1 "${BR_DPID[$role]}"
	# shellcheck disable=SC2016
	br_wait_for 3 bash -c '(( $(grep -c "stats total " "$1" || true) > $2 ))' \
		_ "$log" "$before" || br_fail "braid $role printed no stats on SIGUSR1"
}

# br_stat ROLE LINK KEY / br_total ROLE KEY: a value from the last stats
# lines in the role's log (empty if absent).
br_stat()
{
	grep -o "stats link=$2 .*" "${BR_LOG[$1]}" | tail -n 1 |
		grep -o " $3=[^ ]*" | cut -d= -f2 || true
}

br_total()
{
	grep -o 'stats total .*' "${BR_LOG[$1]}" | tail -n 1 |
		grep -o " $2=[0-9]*" | cut -d= -f2 || true
}

br_print_stats()	# ROLE: the last stats block
{
	local log=${BR_LOG[$1]}
	grep -o 'stats link=.*' "$log" | awk '{ l[$2] = $0 } END { for (k in l) print "    " l[k] }' | sort
	grep -o 'stats total .*' "$log" | tail -n 1 | sed 's/^/    /'
}

br_ctr()	# NS DEV KEY (tx_bytes, rx_packets, ...)
{
	br_in "$1" cat "/sys/class/net/$2/statistics/$3"
}

# br_stop ROLE [SECONDS]: SIGTERM and wait; exit status in BR_RC[ROLE].
br_stop()
{
	local role=$1 pid=${BR_DPID[$1]}
	kill -TERM "$pid" 2>/dev/null || true
	if ! br_wait_pid "$pid" "${2:-10}"; then
		kill -KILL "$pid" 2>/dev/null || true
		br_wait_pid "$pid" 2 || true
		br_fail "braid $role did not exit within ${2:-10}s of SIGTERM"
	fi
	BR_RC[$role]=$BR_WAIT_RC
	br_log "braid $role exited with status $BR_WAIT_RC"
}

# br_start_pair LINK...: the master and slave of $BR_TMP/master.conf and
# $BR_TMP/slave.conf, srv routed through the slave's TUN, the slave's
# links (names) up within 10 s.
br_start_pair()
{
	br_start master "$BR_TMP/master.conf"
	br_wait_tun master
	br_start slave "$BR_TMP/slave.conf"
	br_wait_tun slave
	br_slave_route_via_tun
	br_wait_links_up slave 10 "$@"
}

# br_stop_pair: stops the slave, then the master; fails unless both
# exited with status 0.
br_stop_pair()
{
	local role
	br_stop slave
	br_stop master
	for role in slave master; do
		((BR_RC[$role] == 0)) ||
			br_fail "braid $role exited with status ${BR_RC[$role]}"
	done
}

br_wait_listen()	# NS tcp|udp PORT
{
	local flag=-Hltn
	[[ $2 == udp ]] && flag=-Hlun
	# shellcheck disable=SC2016
	br_wait_for 5 bash -c '[[ -n $(ip netns exec "$1" ss '"$flag"' "sport = :$2") ]]' \
		_ "$1" "$3" || br_fail "nothing listening on $2 port $3 in $1"
}

# br_ping NS DST COUNT [INTERVAL]: ICMP echo from NS (python3, as iputils
# ping may be absent); prints how many of COUNT were answered. Each reply is
# awaited for at most 1 s after the last request.
br_ping()
{
	br_in "$1" python3 - "$2" "$3" "${4:-0.2}" <<'EOF'
import os, select, socket, struct, sys, time
dst, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ident = os.getpid() & 0xffff
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
got, sent, nxt = set(), 0, time.monotonic()
end = nxt + count * interval + 1.0
while time.monotonic() < end:
    now = time.monotonic()
    if sent < count and now >= nxt:
        body = struct.pack('!HHHH', 8 << 8, 0, ident, sent) + b'braid' * 8
        pkt = body[:2] + struct.pack('!H', csum(body)) + body[4:]
        try:
            s.sendto(pkt, (dst, 0))
        except OSError:
            pass
        sent += 1
        nxt += interval
    wake = nxt if sent < count else end
    r, _, _ = select.select([s], [], [], max(0.0, wake - now))
    if r:
        data, addr = s.recvfrom(2048)
        icmp = data[(data[0] & 0xf) * 4:]
        if addr[0] == dst and len(icmp) >= 8:
            typ, _, _, rid, seq = struct.unpack('!BBHHH', icmp[:8])
            if typ == 0 and rid == ident:
                got.add(seq)
print(len(got))
EOF
}

# br_transfer NAME PORT BYTES [ACTION]: send BYTES random bytes from slave to
# srv over TCP through the tunnel, eval'ing ACTION 2 s in (in this shell);
# fail unless they arrive intact within 90 s. Sets BR_XFER_SECS.
br_transfer()
{
	local name=$1 port=$2 size=$3 action=${4:-} rx tx t0 t1 end got
	local src=$BR_TMP/$1.src dst=$BR_TMP/$1.dst

	head -c "$size" /dev/urandom >"$src"
	br_bg "$BR_NS_SRV" "$BR_TMP/$name-rx.out" socat -u \
		"TCP-LISTEN:$port,bind=$BR_SRV_IP,reuseaddr" "CREATE:$dst"
	rx=$BR_LASTPID
	br_wait_listen "$BR_NS_SRV" tcp "$port"

	t0=$EPOCHREALTIME
	br_bg "$BR_NS_SLAVE" "$BR_TMP/$name-tx.out" socat -u "OPEN:$src" \
		"TCP:$BR_SRV_IP:$port,connect-timeout=5"
	tx=$BR_LASTPID
	if [[ -n $action ]]; then
		sleep 2
		kill -0 "$rx" 2>/dev/null ||
			br_fail "$name: transfer over before the 2 s mark; nothing tested"
		got=$(stat -c %s "$dst" 2>/dev/null || echo 0)
		br_log "$name: $(br_mb "$got") MB in after 2 s; $action"
		eval "$action"
	fi

	# Bounded wait for the receiver; a failed sender ends it early.
	end=$((SECONDS + 90))
	while kill -0 "$rx" 2>/dev/null; do
		if ((SECONDS > end)); then
			got=$(stat -c %s "$dst" 2>/dev/null || echo 0)
			br_fail "$name: not finished after 90 s ($got of $size bytes arrived)"
		fi
		if [[ -n ${BR_LIVE[$tx]:-} ]] && ! kill -0 "$tx" 2>/dev/null; then
			br_wait_pid "$tx" 1
			((BR_WAIT_RC == 0)) || br_fail "$name: sender socat exited" \
				"$BR_WAIT_RC: $(tail -n 3 "$BR_TMP/$name-tx.out")"
		fi
		sleep 0.05
	done
	t1=$EPOCHREALTIME
	br_wait_pid "$rx" 1
	((BR_WAIT_RC == 0)) || br_fail "$name: receiver socat exited" \
		"$BR_WAIT_RC: $(tail -n 3 "$BR_TMP/$name-rx.out")"
	if [[ -n ${BR_LIVE[$tx]:-} ]]; then
		br_wait_pid "$tx" 10 || br_fail "$name: sender socat still running"
		((BR_WAIT_RC == 0)) || br_fail "$name: sender socat exited $BR_WAIT_RC"
	fi

	got=$(stat -c %s "$dst")
	[[ $(sha256sum <"$src") == "$(sha256sum <"$dst")" ]] ||
		br_fail "$name: received data differs from sent data" \
			"($got of $size bytes arrived)"
	BR_XFER_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	br_log "$name: $size bytes arrived byte-identical (sha256) in ${BR_XFER_SECS}s"
	rm -f "$src" "$dst"
}

# br_log_epoch LOG-LINE: the time stamp braid put on LOG-LINE, in seconds
# since the epoch (for intervals against EPOCHREALTIME).
br_log_epoch()
{
	date -d "${1%% *}" +%s.%3N
}

br_mb()	# BYTES -> "12.3"
{
	awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'
}

br_dump_logs()
{
	local f
	for f in "$BR_TMP"/*.log "$BR_TMP"/*/*.log; do
		[[ -s $f ]] || continue
		echo "---- last lines of $f" >&2
		tail -n 15 "$f" >&2
	done
}

br_cleanup()
{
	local rc=$? pid ns i
	set +e
	trap - EXIT INT TERM
	((rc != 0 && rc != 130 && rc != 143)) && br_dump_logs
	for pid in "${!BR_LIVE[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${!BR_LIVE[@]}"; do
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# Backstop: anything else still running inside our namespaces.
	for ns in "${BR_NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	done
	for ns in "${BR_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ -n ${BR_KEEP_TMP:-} ]]; then
		echo "logs kept in $BR_TMP" >&2
	else
		rm -rf "$BR_TMP"
	fi
	exit "$rc"
}

trap br_cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
