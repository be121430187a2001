#!/usr/bin/env bash
# The README demo: two hosts (network namespaces) joined by a veth pair.
# sctagd runs on the sender with built-in defaults; a flowd-style line on its
# named pipe tags one TCP flow; a capture on the receiver decodes what is on
# the wire. Then the end line, and the same flow goes unmarked again.
#
# Needs root. Creates only its own namespaces, veth pair, pins and temp dir,
# and removes them on exit, also on failure or Ctrl-C.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SCTAG_BUILD_DIR:-$top/build}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF)" >&2
	exit 1
fi
"$top/scripts/install-deps.sh"
echo "== building"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target sctagd sctag-capture >/dev/null

id=$$
src=sctag-demo-src-$id
dst=sctag-demo-dst-$id
vsrc=sds$id
vdst=sdd$id
tmp=$(mktemp -d /tmp/sctag-demo.XXXXXX)
chmod 0711 "$tmp"	# the unprivileged network process reaches its socket
pins=/sys/fs/bpf/sctag-demo-$id
agent=""
server=""

cleanup() {
	set +e
	[ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	[ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
	ip netns del "$src" 2>/dev/null
	ip netns del "$dst" 2>/dev/null
	rm -rf "$pins" "$tmp"
}
trap cleanup EXIT INT TERM

echo "== two hosts: $src [2001:db8:5c::1] <-> $dst [2001:db8:5c::2]"
ip netns add "$src"
ip netns add "$dst"
ip link add "$vsrc" netns "$src" type veth peer name "$vdst" netns "$dst"
ip -n "$src" addr add 2001:db8:5c::1/64 dev "$vsrc" nodad
ip -n "$dst" addr add 2001:db8:5c::2/64 dev "$vdst" nodad
for ns in "$src" "$dst"; do ip -n "$ns" link set lo up; done
ip -n "$src" link set "$vsrc" up
ip -n "$dst" link set "$vdst" up
# Unmarked packets then carry label 0, so "unmarked" is plain to see; and
# TCP negotiates ECN, so ECT(0) in the traffic class shows it is kept.
for ns in "$src" "$dst"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.auto_flowlabels=0
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_ecn=1
done

# Built-in defaults, except where the demo must not touch the host: its own
# pipe path and pin directory, and "nobody" for the unprivileged network
# process (a production host creates a "sctag" account instead).
cat >"$tmp/sctagd.json" <<EOT
{ "user": "nobody",
  "api": { "ipc": "$tmp/api/sctagd.sock", "admin_group": null },
  "pipe": { "path": "$tmp/flowd" },
  "marker": { "pin_dir": "$pins/v1" } }
EOT
echo "== starting sctagd on $src (interface $vsrc)"
nsenter --net=/var/run/netns/"$src" "$build/sctagd" -f -c "$tmp/sctagd.json" \
    -i "$vsrc" 2>"$tmp/sctagd.log" &
agent=$!
for _ in $(seq 100); do
	[ -p "$tmp/flowd" ] && break
	kill -0 "$agent" 2>/dev/null || { cat "$tmp/sctagd.log"; exit 1; }
	sleep 0.1
done
[ -p "$tmp/flowd" ] || { echo "sctagd did not come up"; cat "$tmp/sctagd.log"; exit 1; }
sed 's/^/   sctagd: /' "$tmp/sctagd.log"

# Receiver: reads a length, then that many bytes, then closes first so the
# sender's port is free again at once for the second round.
ip netns exec "$dst" python3 - <<'EOT' &
import socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("2001:db8:5c::2", 5001)); s.listen(4); s.settimeout(60)
for _ in range(2):
    c, _ = s.accept(); c.settimeout(30)
    n = struct.unpack("!Q", c.recv(8, socket.MSG_WAITALL))[0]
    while n > 0:
        b = c.recv(min(n, 1 << 20))
        if not b: break
        n -= len(b)
    c.close()
EOT
server=$!
sleep 0.3

transfer() {
	ip netns exec "$src" python3 - "$1" <<'EOT'
import socket, struct, sys
n = int(sys.argv[1]) << 20
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0x28)   # DSCP AF11; TCP adds ECT(0)
s.bind(("2001:db8:5c::1", 40000)); s.settimeout(30)
s.connect(("2001:db8:5c::2", 5001))
s.sendall(struct.pack("!Q", n)); buf = b"\0" * (1 << 20)
for _ in range(n >> 20): s.sendall(buf)
s.recv(1); s.close()
EOT
}

capture_during() {
	"$build/tests/net/sctag-capture" --netns "$dst" --iface "$vdst" --seconds 3 \
	    --port 5001 >"$tmp/cap" 2>&1 &
	local cap=$!
	sleep 0.5
	transfer "$1"
	wait "$cap" || true
	sed 's/^/   /' "$tmp/cap"
}

line="start tcp 2001:db8:5c::1 40000 2001:db8:5c::2 5001 atlas Data-Consolidation"
echo "== named pipe <- '$line'"
echo "$line" >"$tmp/flowd"
sleep 0.2
echo "== 64 MiB over TCP, captured on $dst:"
capture_during 64

line="end tcp 2001:db8:5c::1 40000 2001:db8:5c::2 5001 atlas Data-Consolidation"
echo "== named pipe <- '$line'"
echo "$line" >"$tmp/flowd"
sleep 0.2
echo "== the same flow again, captured on $dst:"
capture_during 16

kill -USR1 "$agent"; sleep 0.2
echo "== sctagd counters:"
grep -E "counter (packets|matched|marked_flow_label|skipped_no_rule) |pipe lines" \
    "$tmp/sctagd.log" | sed 's/^.*info: /   /'
kill -TERM "$agent"; wait "$agent" || true; agent=""
echo "== stopped sctagd; filter, qdisc and pins removed:"
echo "   tc qdisc on $vsrc: $(tc -n "$src" qdisc show dev "$vsrc" | tr '\n' ' ')"
echo "   pins: $(ls "$pins" 2>/dev/null | wc -l) left"
echo "== done"
