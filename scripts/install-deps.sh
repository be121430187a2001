#!/bin/sh
# Install the Debian 12 packages that building and testing sctag need.
# Idempotent: quiet and fast when everything is already there.
set -eu

PKGS="build-essential cmake pkg-config clang llvm libclang-rt-14-dev bpftool
libbpf-dev libelf-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler
libnng-dev libsodium-dev libjansson-dev libcriterion-dev
iproute2 tcpdump ethtool iputils-ping procps openssl python3"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing; run as root" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
