#!/bin/bash
# run-in-cgroup-v2-vm.sh CMD [ARGS...]
#
# brig's copy of the team's cgroup-v2 guest runner (shared/tools/run-in-cgroup-v2-vm.sh), kept in the
# project so tests never depend on ../shared at run time. conformance/test-cgroup-v2.sh drives it.
#
# Boot a throw-away cgroup-v2-only Linux guest (Debian's stock kernel under
# qemu), run CMD inside it as root, stream its stdout/stderr back, power off,
# and exit with CMD's exit status.
#
# The guest's root filesystem is the HOST's root filesystem, shared read-only
# over 9p, with a tmpfs overlay on top (writes are thrown away at power-off),
# so every host binary (cargo test binaries, runc, crun, bash, ...) runs as is.
# CGV2_SHARE (default: the current directory) is additionally shared READ-WRITE at the same
# path, and CMD starts in the caller's current directory.
#
# Guest: /sys/fs/cgroup is cgroup2 only (cgroup_no_v1=all), all controllers
# (cpuset cpu io memory hugetlb pids rdma misc); /tmp, /run are tmpfs; the
# kernel's full module tree is visible at /lib/modules/$(uname -r), so
# `modprobe veth` etc. and kernel auto-loading (overlay, bridge, ...) work.
#
# Needs only Debian packages:
#   apt-get install -y --no-install-recommends qemu-system-x86 busybox-static kmod cpio xz-utils
# plus the kernel .deb, fetched with `apt-get download` (needs `apt-get update`).
# CGV2_INSTALL=1 makes this script apt-get install what is missing.
#
# Environment knobs:
#   CGV2_SHARE=$PWD        host dir shared read-write (same path in guest)
#   CGV2_CACHE=<dir>        kernel + initramfs cache (default: /var/cache/cgroup-v2-vm)
#   CGV2_KPKG=linux-image-6.1.0-NN-amd64   kernel package (default: what linux-image-amd64 depends on)
#   CGV2_MEM=2048 CGV2_SMP=<nproc>  guest size
#   CGV2_TIMEOUT=1800       seconds before the VM is killed (exit 124)
#   CGV2_ACCEL=tcg          tcg (default) or kvm (only on hosts with real VMX/SVM)
#   CGV2_CPU=max            qemu -cpu model
#   CGV2_CGROUP=            if set (e.g. /test.slice/test.scope) CMD is moved into that
#                           cgroup instead of the root cgroup (controllers enabled on the way)
#   CGV2_ENV="A B"          extra host env vars to pass (PATH HOME LANG TERM USER RUST* CARGO* CI are passed)
#   CGV2_APPEND=            extra kernel command line
#   CGV2_VERBOSE=1          show the guest's serial console (kernel log) on stderr
#
# Exit status: CMD's status; 124 on timeout; 125 if the guest failed before running CMD.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${CGV2_CACHE:-/var/cache/cgroup-v2-vm}
SHARE=$(realpath -m "${CGV2_SHARE:-$PWD}")
MEM=${CGV2_MEM:-2048}
SMP=${CGV2_SMP:-$(nproc)}
TIMEOUT=${CGV2_TIMEOUT:-1800}
ACCEL=${CGV2_ACCEL:-tcg}
CPU=${CGV2_CPU:-max}
VERBOSE=${CGV2_VERBOSE:-0}

log() { echo "run-in-v2: $*" >&2; }
die() { log "$*"; exit 125; }

case "$SHARE" in *[[:space:]]*|*,*) die "CGV2_SHARE must not contain spaces or commas: $SHARE";; esac
[ -d "$SHARE" ] || die "CGV2_SHARE=$SHARE is not a directory"
[ "$(id -u)" = 0 ] || die "must run as root (9p passthrough keeps file owners)"

# ---------------------------------------------------------------- packages
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } ||
  { dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static); }
command -v depmod >/dev/null || need_pkgs+=(kmod)
command -v cpio   >/dev/null || need_pkgs+=(cpio)
command -v xz     >/dev/null || need_pkgs+=(xz-utils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "${CGV2_INSTALL:-0}" = 1 ]; then
    log "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >&2
  else
    die "missing packages: ${need_pkgs[*]} (apt-get install -y --no-install-recommends ${need_pkgs[*]}, or CGV2_INSTALL=1)"
  fi
fi
BUSYBOX=/bin/busybox
DEPMOD=$(command -v depmod); MODPROBE=$(command -v modprobe)

# ------------------------------------------------------- kernel + initramfs
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
KPKG=${CGV2_KPKG:-}
if [ -z "$KPKG" ]; then
  if [ -f "$CACHE/kpkg" ]; then KPKG=$(cat "$CACHE/kpkg")
  else
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
    [ -n "$KPKG" ] || die "cannot resolve linux-image-amd64 (run apt-get update)"
  fi
fi
KVER=${KPKG#linux-image-}
KDIR=$CACHE/$KPKG
if [ ! -f "$KDIR/.done" ]; then
  log "fetching kernel package $KPKG"
  rm -rf "$KDIR"; mkdir -p "$KDIR/dl"
  id _apt >/dev/null 2>&1 && chown _apt "$KDIR/dl"
  (cd "$KDIR/dl" && apt-get download "$KPKG") >&2
  dpkg-deb -x "$KDIR"/dl/*.deb "$KDIR/root"
  rm -rf "$KDIR/dl"
  "$DEPMOD" -b "$KDIR/root" "$KVER"
  echo "$KPKG" > "$CACHE/kpkg"
  touch "$KDIR/.done"
fi
if [ ! -f "$KDIR/vmlinux" ] && [ ! -f "$KDIR/.no-vmlinux" ]; then
  # Uncompressed ELF vmlinux boots via PVH entry: skips the in-guest xz
  # decompression (~6 s under TCG) and SeaBIOS real-mode setup.
  vmlinuz="$KDIR/root/boot/vmlinuz-$KVER"
  for magic in '\xfd7zXZ\x00:xz' '\x1f\x8b\x08:gzip'; do
    off=$(LC_ALL=C grep -aobUP "${magic%:*}" "$vmlinuz" | head -1 | cut -d: -f1 || true)
    [ -n "$off" ] || continue
    case ${magic#*:} in
      xz) tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream > "$KDIR/vmlinux.tmp" 2>/dev/null || true;;
      gzip) tail -c +$((off + 1)) "$vmlinuz" | gzip -dc > "$KDIR/vmlinux.tmp" 2>/dev/null || true;;
    esac
    if head -c 4 "$KDIR/vmlinux.tmp" | grep -q ELF; then mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"; break; fi
  done
  rm -f "$KDIR/vmlinux.tmp"
  [ -f "$KDIR/vmlinux" ] || { log "could not extract vmlinux; booting bzImage (slower)"; touch "$KDIR/.no-vmlinux"; }
fi
KERNEL=$KDIR/vmlinux; [ -f "$KERNEL" ] || KERNEL=$KDIR/root/boot/vmlinuz-$KVER
MODDIR=$KDIR/root/lib/modules/$KVER
case "$MODDIR" in *[[:space:]]*) die "CGV2_CACHE must not contain spaces";; esac

INITRD=$CACHE/initrd-$KVER.cpio.gz
stamp=$(sha256sum "$0" | cut -c1-16)
if [ ! -f "$INITRD" ] || [ "$(cat "$INITRD.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "building initramfs"
  st=$(mktemp -d "$CACHE/initrd.XXXXXX")
  mkdir -p "$st"/{bin,proc,sys,dev,lower,upper,newroot,lib/modules}
  cp "$BUSYBOX" "$st/bin/busybox"
  for m in virtio_pci 9p 9pnet_virtio overlay; do
    "$MODPROBE" -d "$KDIR/root" -S "$KVER" --show-depends "$m"
  done | awk '$1=="insmod"{print $2}' | awk '!s[$0]++' | while read -r f; do
    cp "$f" "$st/lib/modules/"; echo "$(basename "$f")" >> "$st/modules"
  done
  cat > "$st/init" <<'EOF'
#!/bin/busybox sh
# stage 1 (initramfs): 9p host root (ro) + tmpfs overlay -> switch_root
B=/bin/busybox
fail() { echo "cgv2-init: $*"; $B sync; $B poweroff -f; }
$B mount -t proc proc /proc; $B mount -t sysfs sys /sys; $B mount -t devtmpfs dev /dev
for m in $($B cat /modules); do $B insmod /lib/modules/$m || fail "insmod $m"; done
for a in $($B cat /proc/cmdline); do
  case $a in cgv2.share=*) SHARE=${a#cgv2.share=};; cgv2.moddir=*) MODDIR=${a#cgv2.moddir=};; esac
done
O=trans=virtio,version=9p2000.L,msize=512000
$B mount -t 9p -o $O,ro,cache=loose hostroot /lower || fail "mount hostroot"
$B mount -t tmpfs -o mode=755 upper /upper; $B mkdir -p /upper/u /upper/w
$B mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w root /newroot || fail "mount overlay"
R=/newroot
for d in tmp run; do $B mount -t tmpfs -o mode=1777 $d $R/$d; done
$B chmod 755 $R/run
$B mkdir -p $R/run/cgv2 $R/run/cgv2-init "$R$SHARE"
$B mount -t 9p -o $O,cache=mmap share "$R$SHARE" || fail "mount share $SHARE"
$B mount -t 9p -o $O ctl $R/run/cgv2 || fail "mount ctl"
$B cp $B $R/run/cgv2-init/busybox
# full module tree of the guest kernel (from the host cache) for modprobe/autoload
K=$($B uname -r); $B mkdir -p $R/lib/modules/$K
[ -n "$MODDIR" ] && $B mount --bind "/lower$MODDIR" $R/lib/modules/$K
for d in proc sys dev; do $B mount --move /$d $R/$d; done
exec $B switch_root $R /run/cgv2-init/busybox sh /run/cgv2/stage2
EOF
  chmod +x "$st/init"
  (cd "$st" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"; echo "$stamp" > "$INITRD.stamp"
  rm -rf "$st"
fi
flock -u 9

# ------------------------------------------------------------- per-run ctl
CTL=$(mktemp -d /tmp/cgv2-run.XXXXXX)
QPID=
cleanup() { [ -n "$QPID" ] && kill "$QPID" 2>/dev/null; rm -rf "$CTL"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "cd $(printf %q "$PWD") 2>/dev/null || cd /"
  for v in PATH HOME USER LANG TERM CI $(compgen -e | grep -E '^(RUST|CARGO)' || true) ${CGV2_ENV:-}; do
    if [ -n "${!v+x}" ]; then echo "export $v=$(printf %q "${!v}")"; fi
  done
  printf 'exec'; printf ' %q' "$@"; echo
} > "$CTL/cmd.sh"

cat > "$CTL/stage2" <<EOF
# stage 2: PID 1 in the final root (host root + overlay)
B=/run/cgv2-init/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
\$B mkdir -p /dev/pts /dev/shm /dev/mqueue
\$B mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
\$B mount -t tmpfs -o mode=1777 shm /dev/shm
\$B mount -t mqueue mqueue /dev/mqueue
\$B mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
\$B mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
\$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
\$B mount -t bpf bpf /sys/fs/bpf 2>/dev/null
\$B ln -sf /proc/self/fd /dev/fd; \$B ln -sf /proc/self/fd/0 /dev/stdin
\$B ln -sf /proc/self/fd/1 /dev/stdout; \$B ln -sf /proc/self/fd/2 /dev/stderr
\$B hostname cgv2
\$B ip link set lo up 2>/dev/null
cg=$(printf %q "${CGV2_CGROUP:-}")
p=/sys/fs/cgroup
if [ -n "\$cg" ]; then
  for c in \$(echo "\$cg" | \$B tr / ' '); do
    for x in \$(\$B cat \$p/cgroup.controllers); do echo +\$x > \$p/cgroup.subtree_control 2>/dev/null; done
    p=\$p/\$c; \$B mkdir -p \$p
  done
fi
echo started > /run/cgv2/started
( [ "\$p" = /sys/fs/cgroup ] || echo 0 > \$p/cgroup.procs; exec /bin/bash /run/cgv2/cmd.sh ) > /run/cgv2/stdout 2> /run/cgv2/stderr < /dev/null
echo \$? > /run/cgv2/rc
\$B sync
\$B poweroff -f
EOF
: > "$CTL/stdout"; : > "$CTL/stderr"

# ------------------------------------------------------------------- boot
accel=(-accel "$ACCEL")
[ "$ACCEL" = tcg ] && [ -n "${CGV2_TCG:-}" ] && accel=(-accel "tcg,thread=$CGV2_TCG")
[ "$ACCEL" = kvm ] && CPU=${CGV2_CPU:-host}
serial=(-serial "file:$CTL/console.log")
: > "$CTL/console.log"
start=$(date +%s.%N)
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${accel[@]}" -cpu "$CPU" -m "$MEM" -smp "$SMP" \
  -nodefaults -no-reboot -display none -monitor none "${serial[@]}" \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 cgv2.share=$SHARE cgv2.moddir=$MODDIR ${CGV2_APPEND:-}" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap,id=hostroot \
  -virtfs "local,path=$SHARE,mount_tag=share,security_model=passthrough,multidevs=remap,id=share" \
  -virtfs "local,path=$CTL,mount_tag=ctl,security_model=passthrough,id=ctl" \
  < /dev/null >&2 &
QPID=$!
tail -q -n +1 -s 0.2 -F --pid=$QPID "$CTL/stdout" 2>/dev/null &
T1=$!
tail -q -n +1 -s 0.2 -F --pid=$QPID "$CTL/stderr" >&2 2>/dev/null &
T2=$!
T3=
[ "$VERBOSE" = 1 ] && { tail -q -n +1 -s 0.2 -F --pid=$QPID "$CTL/console.log" >&2 2>/dev/null & T3=$!; }
# Guest-hang watchdog: TCG guests occasionally wedge (soft lockup / RCU stall,
# seen ~1 in 20 runs with -smp 2); fail fast instead of waiting for TIMEOUT.
( while kill -0 $QPID 2>/dev/null; do
    if grep -q -E 'soft lockup|detected stalls on CPUs|Kernel panic' "$CTL/console.log" 2>/dev/null; then
      sleep "${CGV2_HANG_GRACE:-20}"   # an RCU stall can clear by itself; a soft lockup rarely does
      if grep -q -E 'soft lockup - CPU#[0-9]+ stuck for [0-9]{3,}s|Kernel panic' "$CTL/console.log" ||
         [ "$(grep -c -E 'soft lockup|detected stalls' "$CTL/console.log")" -ge 3 ]; then
        touch "$CTL/hung"; kill $QPID 2>/dev/null; break
      fi
    fi
    sleep 2
  done ) &
W=$!
set +e
wait $QPID; qrc=$?
QPID=
wait $T1 $T2 $T3 2>/dev/null
kill $W 2>/dev/null; wait $W 2>/dev/null
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')

if [ -f "$CTL/rc" ]; then
  rc=$(cat "$CTL/rc")
  log "guest exit=$rc (vm ${elapsed}s, $ACCEL)"
  exit "$rc"
fi
if [ -f "$CTL/hung" ]; then
  log "guest kernel wedged (soft lockup / RCU stall under TCG); VM killed. Re-run, or try CGV2_SMP=1"; rc=125
elif [ $qrc = 124 ] || [ $qrc = 137 ]; then
  log "TIMEOUT after ${TIMEOUT}s"; rc=124
else
  log "guest did not report an exit status (qemu rc=$qrc)"; rc=125
fi
[ -f "$CTL/started" ] && log "CMD had started" || log "CMD never started"
[ -f "$CTL/console.log" ] && { log "--- guest console (tail) ---"; tail -n 40 "$CTL/console.log" >&2; }
exit $rc
