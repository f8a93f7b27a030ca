#!/bin/bash
# Real clients driving brig as their runtime: podman (through conmon), docker and containerd's ctr (through
# containerd's runc shim),
# from Debian's packages, with their own state directories and daemons started and stopped here.
# One PASS/FAIL line per case, then `N passed, N failed`; exits non-zero if anything failed.
# usage (as root): bash conformance/clients/run.sh [podman] [docker] [containerd]     (default: all three)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(podman docker containerd)

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
  # Daemons get ten seconds to stop their shims and containers before they are killed.
  for _ in $(seq 100); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  umount -R "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
tar -C "$repo/bundles/busybox/rootfs" -cf "$work/busybox.tar" .

# `brig commit` archives for the clients to load: a container on an overlay layer that changed two files.
B=("$brig" --root "$work/brig")
"${B[@]}" run -d --overlay --bundle "$repo/bundles/busybox" committed -- \
  sh -c 'echo committed-change > /etc/motd; rm /bin/vi; echo ready; sleep 1000' >/dev/null
for _ in $(seq 50); do "${B[@]}" logs committed 2>/dev/null | grep -q ready && break; sleep 0.1; done
"${B[@]}" commit --tag brig-commit/docker committed "$work/commit-docker.tar" >/dev/null
"${B[@]}" commit --format oci --tag brig-commit/oci committed "$work/commit-oci.tar" >/dev/null
"${B[@]}" rm -f committed >/dev/null
SHOW='cat /etc/motd; ls /bin/vi 2>/dev/null || echo vi-gone'

passed=0 failed=0
# case NAME EXPECTED COMMAND...: COMMAND must succeed and its combined output contain EXPECTED (a grep -E
# pattern); EXPECTED "rc=N" checks the exit status instead; "err:PATTERN" wants a failure saying PATTERN.
case_() {
  local name=$1 want=$2; shift 2
  local out rc
  out=$(timeout 120 "$@" 2>&1); rc=$?
  local ok=1
  case $want in
    rc=*) [ "$rc" = "${want#rc=}" ] || ok=0 ;;
    err:*) [ "$rc" != 0 ] && grep -qE -- "${want#err:}" <<<"$out" || ok=0 ;;
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
    case_ "podman load of brig commit (docker-archive)" 'Loaded image' "${P[@]}" load -i "$work/commit-docker.tar"
    case_ "podman run of the committed image" 'committed-change.*vi-gone' sh -c "$(printf '%q ' "${P[@]}") run --rm brig-commit/docker sh -c '$SHOW' | tr '\n' ' '"
    case_ "podman load of brig commit (oci-archive)" 'Loaded image' "${P[@]}" load -i "$work/commit-oci.tar"
    case_ "podman run of the committed OCI image" 'committed-change.*vi-gone' sh -c "$(printf '%q ' "${P[@]}") run --rm brig-commit/oci sh -c '$SHOW' | tr '\n' ' '"
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
    case_ "docker load of brig commit" 'Loaded image: brig-commit/docker:latest' "${D[@]}" load -i "$work/commit-docker.tar"
    case_ "docker run of the committed image" 'committed-change.*vi-gone' sh -c "$(printf '%q ' "${D[@]}") run --rm --network none brig-commit/docker sh -c '$SHOW' | tr '\n' ' '"
    "${D[@]}" rm -f $("${D[@]}" ps -aq) >/dev/null 2>&1
    ;;
  containerd)
    C=$work/containerd
    mkdir -p "$C"
    cat > "$C/config.toml" <<CONF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
CONF
    containerd --config "$C/config.toml" > "$C/containerd.log" 2>&1 &
    pids+=($!)
    X=(ctr --address "$C/containerd.sock")
    for _ in $(seq 60); do "${X[@]}" version >/dev/null 2>&1 && break; sleep 0.5; done
    # ctr imports OCI image archives only: make one from the same tar.
    python3 - "$work/busybox.tar" "$C/busybox-oci.tar" <<'PY'
import hashlib, io, json, sys, tarfile
layer = open(sys.argv[1], "rb").read()
def blob(data): return "sha256:" + hashlib.sha256(data).hexdigest(), data
ld, _ = blob(layer)
config = json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd, _ = blob(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
md, _ = blob(manifest)
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": len(manifest),
    "annotations": {"io.containerd.image.name": "docker.io/library/busybox:brig", "org.opencontainers.image.ref.name": "brig"}}]}).encode()
with tarfile.open(sys.argv[2], "w") as t:
    for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index),
                       ("blobs/sha256/" + ld[7:], layer), ("blobs/sha256/" + cd[7:], config), ("blobs/sha256/" + md[7:], manifest)]:
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
PY
    "${X[@]}" images import "$C/busybox-oci.tar" >/dev/null
    img=docker.io/library/busybox:brig
    R=(run --runc-binary "$brig")
    vol=$work/ctr-vol; mkdir -p "$vol"
    case_ "containerd run and remove" '^hello$' "${X[@]}" "${R[@]}" --rm "$img" r1 echo hello
    case_ "containerd exit code" rc=3 "${X[@]}" "${R[@]}" --rm "$img" r2 sh -c 'exit 3'
    case_ "containerd missing command" 'err:executable file not found' "${X[@]}" "${R[@]}" --rm "$img" r3 no-such-command
    "${X[@]}" task delete -f r3 >/dev/null 2>&1; "${X[@]}" container delete r3 >/dev/null 2>&1
    case_ "containerd detached run" rc=0 "${X[@]}" "${R[@]}" -d "$img" d1 sh -c 'trap "exit 42" USR1; while true; do sleep 0.1; done'
    sleep 1
    case_ "containerd exec" 'in-exec 0' "${X[@]}" task exec --exec-id e1 d1 sh -c 'echo in-exec $(id -u)'
    case_ "containerd exec exit code" rc=5 "${X[@]}" task exec --exec-id e2 d1 sh -c 'exit 5'
    case_ "containerd ps" '[0-9]+' "${X[@]}" task ps d1
    case_ "containerd pause" rc=0 "${X[@]}" task pause d1
    case_ "containerd paused state" 'PAUSED' "${X[@]}" task ls
    case_ "containerd resume" rc=0 "${X[@]}" task resume d1
    case_ "containerd kill with a signal" rc=0 "${X[@]}" task kill -s SIGUSR1 d1
    case_ "containerd stopped after signal" 'd1 +[0-9]+ +STOPPED' sh -c "sleep 1; ${X[*]} task ls"
    case_ "containerd task delete" rc=0 "${X[@]}" task delete d1
    case_ "containerd kill --all" rc=0 sh -c "${X[*]} ${R[*]} -d $img d2 sh -c 'sleep 1000 & sleep 1000' && sleep 1 && ${X[*]} task kill -a -s SIGKILL d2 && sleep 1 && ${X[*]} task delete d2"
    case_ "containerd volume and env" rc=0 "${X[@]}" "${R[@]}" --rm --env FOO=bar --mount "type=bind,src=$vol,dst=/data,options=rbind:rw" "$img" r4 sh -c 'echo $FOO > /data/out'
    case_ "containerd volume data on host" '^bar$' cat "$vol/out"
    # ctr's containers have no cgroup mount: look from the host (ctr's cgroupsPath is /<namespace>/<id>).
    case_ "containerd memory limit" '^67108864$' sh -c "${X[*]} ${R[*]} -d --memory-limit 67108864 $img r5 sleep 100 >/dev/null &&
      cat /sys/fs/cgroup/memory/default/r5/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/default/r5/memory.max;
      ${X[*]} task kill -s SIGKILL r5; sleep 0.5; ${X[*]} task delete r5 >/dev/null; ${X[*]} container delete r5"
    case_ "containerd tty" '/dev/pts/' sh -c "sleep 3 | script -qec '${X[*]} ${R[*]} --rm -t $img r6 tty' /dev/null"
    case_ "containerd import of brig commit (oci-archive)" 'brig-commit/oci' "${X[@]}" images import "$work/commit-oci.tar"
    case_ "containerd run of the committed image" 'committed-change.*vi-gone' sh -c "${X[*]} ${R[*]} --rm brig-commit/oci:latest r7 sh -c '$SHOW' | tr '\n' ' '"
    for c in $("${X[@]}" containers ls -q 2>/dev/null); do
      "${X[@]}" task delete -f "$c" >/dev/null 2>&1; "${X[@]}" container delete "$c" >/dev/null 2>&1
    done
    ;;
  *) echo "unknown client $client" >&2; exit 2 ;;
  esac
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
