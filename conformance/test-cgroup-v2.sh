#!/bin/bash
# Run the cgroup integration tests on cgroup v2 for real: build on this host, then run them as root in a
# throw-away cgroup-v2-only guest (Debian's kernel under qemu, this host's filesystem visible read-only and the
# repository read-write). Installs qemu and the kernel package from apt on first use. A guest that fails before
# running the tests (exit 125) is retried once.
# usage: bash conformance/test-cgroup-v2.sh [cargo test args...]   (default: --tests, every test; the cgroup
# tests pick v1 or v2 files by what the host mounts, the others check that nothing else depends on v1)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
[ "$(id -u)" = 0 ] || { echo "test-cgroup-v2.sh: needs root" >&2; exit 1; }
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
for p in busybox-static kmod cpio xz-utils libseccomp-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ] || [ ! -f /var/cache/cgroup-v2-vm/kpkg ]; then
  apt-get update -qq >/dev/null   # also needed to resolve and download the guest kernel package
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
"$repo/bundles/build-rootfs.sh"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--tests)
cargo test --no-run -q "${args[@]}"
for attempt in 1 2; do
  set +e
  CGV2_SHARE=$repo bash "$repo/conformance/cgroup-v2-vm.sh" sh -c \
    'echo "guest: $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"; exec "$@"' \
    sh cargo test "${args[@]}"
  rc=$?
  set -e
  if [ "$rc" = 125 ] && [ "$attempt" = 1 ]; then
    echo "test-cgroup-v2.sh: the guest failed before running the tests; retrying once" >&2
    continue
  fi
  exit "$rc"
done
