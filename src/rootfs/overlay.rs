//! The per-container writable layer (`--overlay`): the bundle's rootfs is the read-only lower layer of an
//! overlayfs whose upper and work directories live in the container's state directory, so containers sharing
//! one bundle never see each other's writes and the bundle is never written. Mounted by brig on the host
//! (errors are reported before any process exists) at `<state>/rootfs`, unmounted by `delete`.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub const UPPER: &str = "upper";
pub const WORK: &str = "work";
pub const MERGED: &str = "rootfs";

/// Mount the layer for the container whose state directory is `state_dir`; returns the merged root.
pub fn mount(lower: &Path, state_dir: &Path) -> Result<PathBuf> {
    let lower_text = lower.to_string_lossy();
    // The option string is split on ',' and lowerdir on ':'; such paths cannot be expressed safely.
    if lower_text.contains([',', ':', '\\']) || lower.to_str().is_none() {
        bail!(
            "--overlay: the rootfs path {} contains ',', ':' or '\\\\', which overlayfs options cannot carry",
            lower.display()
        );
    }
    let (upper, work, merged) = (
        state_dir.join(UPPER),
        state_dir.join(WORK),
        state_dir.join(MERGED),
    );
    for d in [&upper, &work, &merged] {
        std::fs::create_dir(d)
            .map_err(|e| anyhow::anyhow!("--overlay: cannot create {}: {e}", d.display()))?;
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower_text,
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "--overlay: the rootfs {} (on {}) cannot be the lower layer of an overlay with its upper layer in {} (on {}): {} (the kernel log says why: dmesg | tail)",
            lower.display(),
            fs_name(lower),
            state_dir.display(),
            fs_name(state_dir),
            e.desc().to_lowercase()
        )
    })?;
    Ok(merged)
}

/// Unmount the layer if it is mounted (a lazy unmount: the container's own mount namespace may still hold it
/// for a moment while it dies). The upper directory goes with the state directory.
pub fn unmount(state_dir: &Path) -> Result<()> {
    let merged = state_dir.join(MERGED);
    match nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => bail!("cannot unmount the overlay at {}: {e}", merged.display()),
    }
    if is_mount_point(&merged) {
        bail!("the overlay at {} is still mounted", merged.display());
    }
    Ok(())
}

/// A directory is a mount point when its device differs from its parent's (bind mounts of the same filesystem
/// aside, which brig never makes here).
fn is_mount_point(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::symlink_metadata(p),
        p.parent().map(std::fs::symlink_metadata),
    ) {
        (Ok(m), Some(Ok(parent))) => m.dev() != parent.dev(),
        _ => false,
    }
}

/// The filesystem type of `p`, by name for the common ones, for error messages.
fn fs_name(p: &Path) -> String {
    let Ok(st) = nix::sys::statfs::statfs(p) else {
        return "an unknown filesystem".into();
    };
    let magic = st.filesystem_type().0 as u64;
    let name = match magic {
        0x794c_7630 => "overlayfs",
        0x0102_1994 => "tmpfs",
        0xef53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683e => "btrfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        _ => return format!("filesystem type {magic:#x}"),
    };
    name.into()
}
