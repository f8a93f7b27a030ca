#!/bin/sh
# Build a bundle's rootfs/ from Debian's busybox-static (installed if missing). Idempotent.
# usage: bundles/build-rootfs.sh [BUNDLE_DIR]   (default: bundles/busybox)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:-$here/busybox}
rootfs=$bundle/rootfs

# busybox-static's /bin/busybox needs no libraries inside the rootfs.
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  echo "installing busybox-static" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
[ -f "$rootfs/bin/busybox" ] && exit 0

tmp=$rootfs.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/root" "$tmp/home/user" "$tmp/var"
chmod 1777 "$tmp/tmp"
cp /bin/busybox "$tmp/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
done
ln -s bin "$tmp/sbin"
mkdir -p "$tmp/usr"
ln -s ../bin "$tmp/usr/bin"
ln -s ../bin "$tmp/usr/sbin"
cat > "$tmp/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$tmp/etc/group" <<'GR'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GR
chown 1000:1000 "$tmp/home/user"
echo "brig busybox rootfs" > "$tmp/etc/motd"
mv "$tmp" "$rootfs"
echo "built $rootfs" >&2
