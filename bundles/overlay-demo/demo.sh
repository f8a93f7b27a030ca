#!/bin/bash
# The verbs for people, on bundles/overlay-demo: its config.json asks for a private overlay layer (annotation
# brig.overlay=true), so every container from it writes /var/visitors in a layer of its own, while a volume
# (-v) collects what they all write in one host directory that outlives them. Then logs, ps, stop, commit, rm.
# usage (as root): bash bundles/overlay-demo/demo.sh     (builds brig and the busybox rootfs first)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
"$repo/bundles/build-rootfs.sh"
(cd "$repo" && cargo build --release -q)
brig() { echo "\$ brig $*" >&2; "$repo/target/release/brig" "$@"; }
cd "$repo/bundles/overlay-demo"
book=$(mktemp -d /tmp/brig-guestbook.XXXXXX)
a=first-$$ b=second-$$ c=sleeper-$$
trap 'brig rm -f $a $b $c >/dev/null 2>&1 || true' EXIT

brig run --hostname first -v "$book:/data" --keep $a          # foreground; --keep so it can be listed
brig run -d --hostname second -v "$book:/data" $b             # detached: its output goes to its log
brig run -d $c -- sh -c 'echo going to sleep; trap "echo bye; exit 0" TERM; sleep 1000 & wait'
sleep 1
brig logs $b                          # second sees only its own visit: the layers are private
brig ps -a                            # created/running/exited, with exit codes and ages
brig stop -t 5 $c                     # SIGTERM; SIGKILL only if it were still running after 5 s
brig logs --timestamps $c
brig commit --tag demo/first $a "$book/first.tar"     # an image for `podman load` / `docker load`
brig rm $a $b $c
echo "guestbook (the volume, still there after rm):" >&2
cat "$book/guestbook"
[ "$(wc -l < "$book/guestbook")" = 2 ] && [ -s "$book/first.tar" ] && ! [ -e rootfs/var/visitors ] &&
  ! [ -e ../busybox/rootfs/var/visitors ]
echo "demo ok: the bundle's rootfs was never written; archive and guestbook are in $book" >&2
if [ -n "${CI:-}" ]; then rm -rf "$book"; fi
