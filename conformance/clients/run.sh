#!/bin/bash
# Real clients driving brig as their runtime: podman (through conmon) and docker (through containerd's shim),
# from Debian's packages, with their own state directories and daemons started and stopped here.
# One PASS/FAIL line per case, then `N passed, N failed`; exits non-zero if anything failed.
# usage (as root): bash conformance/clients/run.sh [podman] [docker]     (default: both)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(podman docker)

need=()
for p in podman docker.io containerd util-linux libseccomp-dev pkg-config busybox-static; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$repo/bundles/build-rootfs.sh"
(cd "$repo" && cargo build --release -q) || exit 1
brig=$repo/target/release/brig

work=$(mktemp -d /tmp/brig-clients.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  umount -R "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
tar -C "$repo/bundles/busybox/rootfs" -cf "$work/busybox.tar" .

passed=0 failed=0
# case NAME EXPECTED COMMAND...: COMMAND's combined output must contain EXPECTED (a grep -E pattern);
# EXPECTED "rc=N" checks the exit status instead.
case_() {
  local name=$1 want=$2; shift 2
  local out rc
  out=$(timeout 120 "$@" 2>&1); rc=$?
  local ok=1
  case $want in
    rc=*) [ "$rc" = "${want#rc=}" ] || ok=0 ;;
    *) [ "$rc" = 0 ] && grep -qE -- "$want" <<<"$out" || ok=0 ;;
  esac
  if [ $ok = 1 ]; then
    echo "PASS $name"; passed=$((passed + 1))
  else
    echo "FAIL $name (rc=$rc, wanted $want): $(tail -n 3 <<<"$out" | tr '\n' ' ' | cut -c1-300)"; failed=$((failed + 1))
  fi
}

# The common cases, for a client command line `C` (image IMG, volumes dir VOL).
common_cases() {
  local client=$1 img=$2; shift 2
  local C=("$@")
  local R=(run "${RUN_EXTRA[@]}")
  local vol=$work/$client-vol
  mkdir -p "$vol"
  case_ "$client run and remove" '^hello$' "${C[@]}" "${R[@]}" --rm "$img" echo hello
  case_ "$client exit code" rc=3 "${C[@]}" "${R[@]}" --rm "$img" sh -c 'exit 3'
  case_ "$client missing command" rc=127 "${C[@]}" "${R[@]}" --rm "$img" no-such-command
  case_ "$client detached run" '.' "${C[@]}" "${R[@]}" -d --name d1 "$img" sh -c 'echo started; trap "exit 42" USR1; while true; do sleep 0.1; done'
  sleep 1
  case_ "$client logs" 'started' "${C[@]}" logs d1
  case_ "$client exec" 'in-exec 0' "${C[@]}" exec d1 sh -c 'echo in-exec $(id -u)'
  case_ "$client exec exit code" rc=5 "${C[@]}" exec d1 sh -c 'exit 5'
  case_ "$client top" 'sleep|while' "${C[@]}" top d1
  case_ "$client pause" '.' "${C[@]}" pause d1
  case_ "$client paused state" 'paused' "${C[@]}" inspect -f '{{.State.Status}}' d1
  case_ "$client unpause" '.' "${C[@]}" unpause d1
  case_ "$client update memory" '.' "${C[@]}" update --memory 64m --memory-swap 128m d1
  case_ "$client update seen inside" '^67108864$' "${C[@]}" exec d1 sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
  case_ "$client kill with a signal" '.' "${C[@]}" kill -s USR1 d1
  case_ "$client exit status after signal" '42' "${C[@]}" wait d1
  case_ "$client rm" '.' "${C[@]}" rm d1
  case_ "$client detached run to stop" '.' "${C[@]}" "${R[@]}" -d --name d2 "$img" sleep 1000
  case_ "$client stop" '.' "${C[@]}" stop -t 1 d2
  case_ "$client rm stopped" '.' "${C[@]}" rm d2
  case_ "$client volume and env" rc=0 "${C[@]}" "${R[@]}" --rm -v "$vol:/data" -e FOO=bar "$img" sh -c 'echo $FOO > /data/out'
  case_ "$client volume data on host" '^bar$' cat "$vol/out"
  case_ "$client user and workdir" '^1000 /tmp$' "${C[@]}" "${R[@]}" --rm -u 1000 -w /tmp "$img" sh -c 'echo $(id -u) $(pwd)'
  # A tty needs a terminal: script(1) gives one; its stdin stays open (a silent pipe), see CONTRACT.md.
  case_ "$client tty" '/dev/pts/' sh -c "sleep 3 | script -qec '${C[*]} ${R[*]} --rm -t $img tty' /dev/null"
}

for client in "${clients[@]}"; do
  case $client in
  podman)
    cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "brig"
runtime_supports_json = ["runc", "crun", "brig"]
[engine.runtimes]
brig = ["$brig"]
CONF
    P=(env CONTAINERS_CONF="$work/containers.conf" podman --root "$work/podman/root" --runroot "$work/podman/runroot" --storage-driver vfs)
    "${P[@]}" import "$work/busybox.tar" localhost/busybox:brig >/dev/null
    RUN_EXTRA=()
    common_cases podman localhost/busybox:brig "${P[@]}"
    "${P[@]}" rm -af >/dev/null 2>&1
    ;;
  docker)
    mkdir -p "$work/docker"
    dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/dockerd.pid" \
      -H "unix://$work/docker/docker.sock" --iptables=false --ip6tables=false --bridge=none \
      --add-runtime "brig=$brig" --default-runtime brig > "$work/docker/dockerd.log" 2>&1 &
    pids+=($!)
    D=(docker -H "unix://$work/docker/docker.sock")
    for _ in $(seq 60); do "${D[@]}" info >/dev/null 2>&1 && break; sleep 0.5; done
    "${D[@]}" import "$work/busybox.tar" busybox:brig >/dev/null
    RUN_EXTRA=(--network none)
    common_cases docker busybox:brig "${D[@]}" --log-level error
    "${D[@]}" rm -f $("${D[@]}" ps -aq) >/dev/null 2>&1
    ;;
  *) echo "unknown client $client" >&2; exit 2 ;;
  esac
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
