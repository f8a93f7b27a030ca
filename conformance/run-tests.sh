#!/bin/bash
# The whole test suite: installs what the tests need (busybox-static for the test rootfs, runc as the
# differential oracle, podman to load and run what `brig commit` writes, libseccomp-dev and pkg-config to
# build), builds the rootfs, and runs unit and integration tests (as root: they make containers).
# usage: bash conformance/run-tests.sh [cargo test args...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run-tests.sh: the integration tests make containers and need root" >&2; exit 1; }
need=()
for p in busybox-static runc podman libseccomp-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$repo/bundles/build-rootfs.sh"
cd "$repo"
cargo test "$@"
