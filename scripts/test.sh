#!/usr/bin/env bash
# Build everything from scratch and run every test: what CI runs.
#
#  1. gcc build, all tests (unit + network tests in namespaces; needs root);
#  2. clang build with AddressSanitizer + UndefinedBehaviorSanitizer: unit
#     and BPF program tests again, and each parser fuzzed for 30 seconds.
# Build trees: $SCTAG_BUILD_DIR (default ./build) and ./build-asan.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SCTAG_BUILD_DIR:-$top/build}
jobs=$(nproc)

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the network tests need root (namespaces, BPF); run as root" >&2
	exit 1
fi
"$top/scripts/install-deps.sh"

echo "== gcc build: $build"
cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=gcc \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$jobs"
echo "== unit and network tests (gcc)"
(cd "$build" && ctest --output-on-failure --timeout 900)

echo "== clang build with ASan+UBSan: $build-asan"
cmake -S "$top" -B "$build-asan" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Debug -DSCTAG_SANITIZE=ON -DSCTAG_FUZZ=ON
cmake --build "$build-asan" -j"$jobs"
echo "== unit and BPF program tests, then fuzzing (clang, ASan+UBSan)"
(cd "$build-asan" && ctest -L 'unit|bpf|fuzz' --output-on-failure --timeout 900)
