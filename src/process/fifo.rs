//! `exec.fifo`: the created init blocks opening it for writing; `start` opens it for reading, which lets the
//! init go on and exec the user's program in place. While it exists the container reads as `created`.

use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// Create the fifo, writable by anyone: the init opens it after dropping to the container's user.
pub fn create(dir: &Path) -> Result<()> {
    let path = dir.join(crate::container::EXEC_FIFO);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .with_context(|| format!("cannot create {}", path.display()))?;
    // mkfifo honours the umask: set the mode explicitly.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &path,
        nix::sys::stat::Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )?;
    Ok(())
}

/// Init side: block until `start` opens the fifo, then tell it we are going ahead.
pub fn wait_for_start(dir_fd: i32) -> Result<()> {
    let fd = loop {
        // SAFETY: openat relative to the state-dir fd we hold; the fd is owned right after.
        let fd = unsafe {
            libc::openat(
                dir_fd,
                c"exec.fifo".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            break unsafe { OwnedFd::from_raw_fd(fd) };
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            bail!("cannot open exec fifo: {e}");
        }
    };
    // SAFETY: write one byte from a static buffer.
    if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
        bail!(
            "cannot write exec fifo: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// `start` side: release the init. Polls so that an init that died meanwhile is noticed instead of waiting
/// forever; `alive` says whether it still exists.
pub fn release(dir: &Path, alive: impl Fn() -> bool) -> Result<()> {
    let path = dir.join(crate::container::EXEC_FIFO);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    loop {
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 50) };
        if n > 0 && pfd.revents & libc::POLLIN != 0 {
            let mut b = [0u8; 1];
            // SAFETY: read into a one-byte buffer.
            let r = unsafe { libc::read(file.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
            if r == 1 {
                let _ = std::fs::remove_file(&path);
                return Ok(());
            }
        }
        if !alive() {
            let _ = std::fs::remove_file(&path);
            bail!("the container init exited before it could be started");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
