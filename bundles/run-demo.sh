#!/bin/bash
# Quick start: install what is missing, build brig, and run a container from bundles/busybox.
# usage (as root on Debian 12): bash bundles/run-demo.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/bundles/build-rootfs.sh"
(cd "$repo" && cargo build --release -q)
# Each run gets its own id; foreground run removes the container when it exits.
exec "$repo/target/release/brig" run --bundle "$repo/bundles/busybox" "demo-$$"
