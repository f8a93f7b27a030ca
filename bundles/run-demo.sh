#!/bin/bash
# Quick start: install what is missing (libseccomp-dev to build, busybox-static for the rootfs), build brig,
# and run a container from bundles/busybox.
# usage (as root on Debian 12): bash bundles/run-demo.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
need=()
for p in libseccomp-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$repo/bundles/build-rootfs.sh"
(cd "$repo" && cargo build --release -q)
# Each run gets its own id; foreground run removes the container when it exits.
exec "$repo/target/release/brig" run --bundle "$repo/bundles/busybox" "demo-$$"
