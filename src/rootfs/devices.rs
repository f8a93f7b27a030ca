//! /dev inside the container: the default device nodes every container gets, `linux.devices`, and the
//! standard symlinks. In a user namespace mknod is not allowed, so nodes are bind mounts of the host's.

use super::safe_path::resolve_in_root;
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::unix::fs::symlink;
use std::path::Path;

/// (path, major, minor): the devices runc gives every container, mode 0666, owned by root.
pub const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

pub struct Node<'a> {
    pub path: &'a Path,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Create the default devices (those not in `linux.devices`), then `linux.devices`, then the symlinks.
pub fn create_all(rootfs: &Path, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    for &(path, major, minor) in DEFAULT_DEVICES {
        if devices.iter().any(|d| d.path() == Path::new(path)) {
            continue;
        }
        let node = Node {
            path: Path::new(path),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        create_node(rootfs, &node, in_userns)?;
    }
    for d in devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!(
                "linux.devices {}: type \"a\" is not a device node",
                d.path().display()
            ),
        };
        if !d.path().starts_with("/dev") {
            bail!(
                "linux.devices {}: devices must be under /dev",
                d.path().display()
            );
        }
        let node = Node {
            path: d.path(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        create_node(rootfs, &node, in_userns)?;
    }
    for &(target, link) in SYMLINKS {
        let at = resolve_in_root(rootfs, Path::new(link))?;
        if let Err(e) = symlink(target, &at) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                bail!("cannot create symlink {link}: {e}");
            }
        }
    }
    // runc links /dev/core to /proc/kcore where the host has one.
    if Path::new("/proc/kcore").exists() {
        let _ = symlink(
            "/proc/kcore",
            resolve_in_root(rootfs, Path::new("/dev/core"))?,
        );
    }
    let ptmx = resolve_in_root(rootfs, Path::new("/dev/ptmx"))?;
    let _ = std::fs::remove_file(&ptmx);
    symlink("pts/ptmx", &ptmx).context("cannot create /dev/ptmx")?;
    Ok(())
}

fn create_node(rootfs: &Path, node: &Node, in_userns: bool) -> Result<()> {
    let at = resolve_in_root(rootfs, node.path)?;
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let _ = std::fs::remove_file(&at);
    if in_userns {
        // Bind the host's node: the kernel refuses mknod in a user namespace.
        std::fs::File::create(&at)
            .with_context(|| format!("cannot create {}", node.path.display()))?;
        mount(
            Some(node.path),
            &at,
            Some("bind"),
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("cannot bind device {}", node.path.display()))?;
        return Ok(());
    }
    mknod(
        &at,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    )
    .with_context(|| format!("cannot create device {}", node.path.display()))?;
    nix::unistd::chown(&at, Some(node.uid.into()), Some(node.gid.into()))
        .with_context(|| format!("cannot chown device {}", node.path.display()))?;
    Ok(())
}
