//! Terminals: the init opens a pty in the container's own devpts, sends the master over `--console-socket`
//! (SCM_RIGHTS) and makes the slave its controlling terminal and stdio.

use anyhow::{bail, Context, Result};
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Connect to the console socket before the fork, so a bad path fails create early and cleanly.
pub fn connect_socket(path: &Path) -> Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("cannot create console socket")?;
    let addr = UnixAddr::new(path)
        .with_context(|| format!("--console-socket {}: bad path", path.display()))?;
    connect(fd.as_raw_fd(), &addr).map_err(|e| {
        anyhow::anyhow!(
            "--console-socket {}: cannot connect: {}",
            path.display(),
            e.desc().to_lowercase()
        )
    })?;
    Ok(fd)
}

/// Open a pty (in the current /dev, i.e. after pivot_root), send its master over `socket`, and make the slave
/// this process's controlling terminal and stdin/stdout/stderr. `size` is (rows, cols) when the config has one.
pub fn setup_pty(socket: RawFd, size: Option<(u16, u16)>) -> Result<()> {
    // SAFETY: plain libc pty calls on fds we own.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        bail!("cannot open /dev/ptmx: {}", std::io::Error::last_os_error());
    }
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    if unsafe { libc::unlockpt(master.as_raw_fd()) } != 0 {
        bail!("cannot unlock pty: {}", std::io::Error::last_os_error());
    }
    let mut peer = 0i32;
    // TIOCGPTPEER opens the slave through the master, so no path lookup can be redirected.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    let slave = if slave >= 0 {
        unsafe { OwnedFd::from_raw_fd(slave) }
    } else {
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut peer) } != 0 {
            bail!("cannot get pty number: {}", std::io::Error::last_os_error());
        }
        let path = std::ffi::CString::new(format!("/dev/pts/{peer}"))?;
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
        if fd < 0 {
            bail!("cannot open pty slave: {}", std::io::Error::last_os_error());
        }
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    super::channel::send_with_fd(socket, b"/dev/ptmx", master.as_raw_fd())
        .map_err(|e| anyhow::anyhow!("cannot send pty master to the console socket: {e}"))?;
    drop(master);
    // SAFETY: make the slave the controlling terminal of our (new) session and our stdio.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) != 0 {
            bail!(
                "cannot set controlling terminal: {}",
                std::io::Error::last_os_error()
            );
        }
        for target in 0..3 {
            if libc::dup2(slave.as_raw_fd(), target) < 0 {
                bail!(
                    "cannot dup pty to fd {target}: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    // /dev/console is the container's terminal too (as runc).
    if let Ok(name) = nix::unistd::ttyname(&slave) {
        let console = Path::new("/dev/console");
        if std::fs::symlink_metadata(console).is_err() {
            let _ = std::fs::File::create(console);
        }
        let _ = nix::mount::mount(
            Some(&name),
            console,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        );
    }
    Ok(())
}

/// A connected pair standing in for --console-socket when brig relays the terminal itself.
pub fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("cannot create the console socketpair")
}

/// The pty master the container's process sent over `sock`.
pub fn receive_master(sock: &OwnedFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 64];
    let (_, fd) = super::channel::recv_with_fd(sock.as_raw_fd(), &mut buf)
        .context("cannot receive the pty master")?;
    fd.context("the container sent no pty master")
}
