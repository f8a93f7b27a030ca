//! The container's filesystem, built by the init inside its own mount namespace: propagation, the bind of the
//! rootfs, `mounts` in order, /dev, then `pivot_root`; after it masked and read-only paths and a read-only root.
//! Every destination from config.json is resolved inside the rootfs (`safe_path`), never on the host.

pub mod devices;
pub mod options;
pub mod overlay;
pub mod safe_path;

use anyhow::{bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{Mount, Spec};
pub use options::propagation_flag;
use safe_path::resolve_in_root;
use std::path::{Path, PathBuf};

/// What the rootfs steps need to know beyond the spec.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub in_userns: bool,
    pub own_cgroupns: bool,
}

/// Everything up to (not including) pivot_root.
pub fn prepare(ctx: &RootfsContext) -> Result<()> {
    let linux = ctx.spec.linux().as_ref();
    let propagation = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|p| !p.is_empty())
        .and_then(propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Keep the container's mounts from propagating back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        propagation | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("cannot set propagation of /")?;
    // The rootfs must be a mount point for pivot_root.
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        Some("bind"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("cannot bind mount rootfs {}", ctx.rootfs.display()))?;
    let mounts = ctx.spec.mounts().as_deref().unwrap_or(&[]);
    for m in mounts {
        mount_one(ctx, m).with_context(|| format!("mount {}", m.destination().display()))?;
    }
    let dev_is_bound = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && options::parse(m.options().as_deref().unwrap_or(&[])).is_bind()
    });
    if !dev_is_bound {
        let devs = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        devices::create_all(ctx.rootfs, devs, ctx.in_userns)?;
    }
    Ok(())
}

fn mount_one(ctx: &RootfsContext, m: &Mount) -> Result<()> {
    let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = resolve_in_root(ctx.rootfs, m.destination())?;
    if typ == "cgroup" || typ == "cgroup2" {
        return crate::cgroups::mount_in_container(&dest, &opts, ctx.own_cgroupns);
    }
    let source: Option<PathBuf> = m.source().as_ref().map(|s| {
        if opts.is_bind() && s.is_relative() {
            ctx.bundle.join(s)
        } else {
            s.clone()
        }
    });
    if opts.is_bind() {
        let src = source.as_deref().context("a bind mount needs a source")?;
        let meta =
            std::fs::metadata(src).with_context(|| format!("bind source {}", src.display()))?;
        ensure_target(&dest, !meta.is_dir())?;
    } else {
        ensure_target(&dest, false)?;
    }
    if opts.tmpcopyup && typ == "tmpfs" {
        return tmpfs_copy_up(&dest, &opts);
    }
    // A bind mount takes only MS_BIND|MS_REC at first; its other flags need the remount below.
    let flags = if opts.is_bind() {
        opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC)
    } else {
        opts.flags
    };
    let data = opts.data_string();
    let data = (!data.is_empty()).then_some(data.as_str());
    let fstype = if opts.is_bind() {
        Some("bind")
    } else {
        Some(typ).filter(|t| !t.is_empty())
    };
    let result = mount(source.as_deref(), &dest, fstype, flags, data);
    match result {
        Ok(()) => {}
        // sysfs cannot be mounted in a user namespace that does not own the network namespace: bind the host's.
        Err(nix::errno::Errno::EPERM) if typ == "sysfs" && ctx.in_userns => {
            mount(
                Some("/sys"),
                &dest,
                Some("bind"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .context("cannot bind /sys")?;
            remount_bind(&dest, opts.flags | MsFlags::MS_REC, ctx.in_userns)?;
        }
        Err(e) => bail!(
            "cannot mount {typ} on {}: {}",
            m.destination().display(),
            e.desc().to_lowercase()
        ),
    }
    // A bind mount takes its flags (ro, nosuid...) only on a remount.
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if opts.is_bind() && !extra.is_empty() {
        remount_bind(&dest, opts.flags, ctx.in_userns)?;
    }
    for p in &opts.propagation {
        mount(None::<&str>, &dest, None::<&str>, *p, None::<&str>)
            .context("cannot set propagation")?;
    }
    if opts.attr_set != 0 || opts.attr_clr != 0 {
        mount_setattr_recursive(&dest, opts.attr_set, opts.attr_clr)?;
    }
    Ok(())
}

/// Make sure `dest` exists: a directory, or an empty file when a file is mounted on it.
fn ensure_target(dest: &Path, file: bool) -> Result<()> {
    if file {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if std::fs::symlink_metadata(dest).is_err() {
            std::fs::File::create(dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
        }
        return Ok(());
    }
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))
}

/// Remount a bind mount with `flags`, keeping the flags the kernel locks in a user namespace.
pub fn remount_bind(dest: &Path, flags: MsFlags, in_userns: bool) -> Result<()> {
    let mut f = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    if in_userns {
        f |= locked_flags(dest);
    }
    mount(None::<&str>, dest, None::<&str>, f, None::<&str>)
        .with_context(|| format!("cannot remount {}", dest.display()))
}

fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let mut f = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.flags().contains(fs) {
            f |= ms;
        }
    }
    f
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn mount_setattr_recursive(dest: &Path, set: u64, clr: u64) -> Result<()> {
    let c = std::ffi::CString::new(dest.as_os_str().as_encoded_bytes())?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    // SAFETY: valid C string and a properly sized mount_attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        bail!(
            "cannot set recursive mount attributes on {}: {}",
            dest.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// `tmpcopyup`: a tmpfs that starts with what the directory held.
fn tmpfs_copy_up(dest: &Path, opts: &options::MountOptions) -> Result<()> {
    // A fresh private directory: a predictable name in /tmp could be pre-created by someone else.
    let stage = nix::unistd::mkdtemp(&std::env::temp_dir().join(".brig-copyup-XXXXXX"))
        .context("cannot create a staging directory for tmpcopyup")?;
    let data = opts.data_string();
    mount(
        Some("tmpfs"),
        &stage,
        Some("tmpfs"),
        opts.flags,
        Some(data.as_str()),
    )
    .context("cannot mount tmpfs for tmpcopyup")?;
    let copied = copy_tree(dest, &stage);
    let moved = copied.and_then(|_| {
        mount(
            Some(&stage),
            dest,
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .context("cannot move tmpfs")
    });
    if moved.is_err() {
        let _ = umount2(&stage, MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir(&stage);
    moved
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let target = to.join(entry.file_name());
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else if meta.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if meta.is_file() {
            std::fs::copy(entry.path(), &target)?;
        } else {
            continue;
        }
        lchown(&target, Some(meta.uid()), Some(meta.gid()))?;
        if !meta.file_type().is_symlink() {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(meta.mode()))?;
        }
    }
    Ok(())
}

/// Make the rootfs `/`. With `no_pivot`, move it over `/` and chroot (for a rootfs on a ramdisk).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).with_context(|| format!("cannot chdir to {}", rootfs.display()))?;
    if no_pivot {
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .context("cannot move rootfs to /")?;
        nix::unistd::chroot(".").context("cannot chroot")?;
        nix::unistd::chdir("/")?;
        return Ok(());
    }
    // pivot_root(".", "."): the old root is stacked under the new one, then detached.
    nix::unistd::pivot_root(".", ".").context("pivot_root failed")?;
    // Make the old root a slave so unmounting it cannot propagate to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("cannot make old root a slave")?;
    umount2(".", MntFlags::MNT_DETACH).context("cannot detach old root")?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// After pivot_root: sysctl, masked and read-only paths, and a read-only root. Paths resolve in the
/// container's own root now, so the kernel keeps them inside it.
pub fn finalize(spec: &Spec, in_userns: bool) -> Result<()> {
    let linux = spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        for (key, value) in sysctl {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            std::fs::write(&path, value)
                .with_context(|| format!("linux.sysctl {key}: cannot write {path}"))?;
        }
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly_path(Path::new(p), in_userns)
            .with_context(|| format!("linux.readonlyPaths {p}"))?;
    }
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask_path(Path::new(p)).with_context(|| format!("linux.maskedPaths {p}"))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY, in_userns).context("root.readonly")?;
    }
    Ok(())
}

fn readonly_path(p: &Path, in_userns: bool) -> Result<()> {
    match mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        r => r.context("cannot bind")?,
    }
    remount_bind(p, MsFlags::MS_RDONLY | MsFlags::MS_REC, in_userns)
}

fn mask_path(p: &Path) -> Result<()> {
    let meta = match std::fs::metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        m => m?,
    };
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .context("cannot mask directory")?;
    } else {
        mount(
            Some("/dev/null"),
            p,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("cannot mask file")?;
    }
    Ok(())
}
