#!/bin/bash
# Start-latency and memory benchmark: brig against runc and crun (Debian's) in one run, same bundle.
# Prints hyperfine medians per operation and the brig/crun and brig/runc ratios, then peak RSS of `create`.
# usage: conformance/bench.sh [RUNS]    (as root; installs hyperfine, runc, crun, time from apt if missing)
#
# crun 1.8.1 refuses a host whose cgroup2 mount offers any controller (this machine's hybrid layout), so on
# such a host the whole benchmark runs in a private mount namespace with /sys/fs/cgroup/unified unmounted:
# every runtime sees the same layout.
set -euo pipefail
runs=${1:-50}
repo=$(cd "$(dirname "$0")/.." && pwd)
need=()
for p in hyperfine runc crun time libseccomp-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$repo/bundles/build-rootfs.sh"
(cd "$repo" && cargo build --release -q)
brig=$repo/target/release/brig

work=$(mktemp -d /tmp/brig-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$repo" "$work" <<'PY'
import json, sys
repo, work = sys.argv[1], sys.argv[2]
c = json.load(open(f"{repo}/bundles/busybox/config.json"))
c["root"]["path"] = f"{repo}/bundles/busybox/rootfs"
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(f"{work}/config.json", "w"))
c["process"]["args"] = ["sleep", "1000"]
import os; os.makedirs(f"{work}/sleep", exist_ok=True)
json.dump(c, open(f"{work}/sleep/config.json", "w"))
PY

inner() {
  set -euo pipefail
  if [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
    umount /sys/fs/cgroup/unified
  fi
  cd "$work"
  declare -A bin=([brig]="$brig" [runc]=runc [crun]=crun)
  for rt in brig runc crun; do
    # A long-lived container for state/list to look at.
    ${bin[$rt]} --root "$work/root-$rt" run -d -b "$work/sleep" "keep-$rt" >/dev/null
  done
  args=()
  for op in run cycle state list; do
    for rt in brig runc crun; do
      r="${bin[$rt]} --root $work/root-$rt"
      case $op in
        run) args+=(-n "run/$rt" "$r run -b $work b-$rt") ;;
        cycle) args+=(-n "create+start+delete/$rt" "sh -c '$r create -b $work c-$rt && $r start c-$rt && $r delete -f c-$rt'") ;;
        state) args+=(-n "state/$rt" "$r state keep-$rt") ;;
        list) args+=(-n "list/$rt" "$r list") ;;
      esac
    done
  done
  hyperfine -N -w 5 -r "$runs" --export-json "$work/result.json" "${args[@]}" >/dev/null
  python3 - "$work/result.json" <<'PY'
import json, sys
res = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print(f"{'operation':<22}{'brig ms':>10}{'runc ms':>10}{'crun ms':>10}{'brig/crun':>11}{'brig/runc':>11}")
for op in ["run", "create+start+delete", "state", "list"]:
    b, r, c = (res[f"{op}/{rt}"] for rt in ("brig", "runc", "crun"))
    print(f"{op:<22}{b:>10.2f}{r:>10.2f}{c:>10.2f}{b / c:>11.2f}{b / r:>11.2f}")
PY
  echo
  echo "peak RSS of create (KiB, median of 10):"
  for rt in brig runc crun; do
    r="${bin[$rt]} --root $work/root-$rt"
    for i in $(seq 10); do
      # The created init keeps create's stdio open: no pipes here, the figure goes to a file.
      /usr/bin/time -o "$work/rss" -f %M $r create -b "$work" "m-$rt-$i" >/dev/null 2>&1
      $r delete -f "m-$rt-$i" >/dev/null 2>&1
      cat "$work/rss"
    done | sort -n | sed -n 5p | sed "s/^/  $rt /"
  done
  for rt in brig runc crun; do ${bin[$rt]} --root "$work/root-$rt" delete -f "keep-$rt" >/dev/null 2>&1 || true; done
}
export -f inner
export work brig runs
unshare -m --propagation private bash -c inner
