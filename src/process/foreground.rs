//! A foreground `run`: brig is the init's parent, forwards the signals it gets, and returns the exit status.
//! The signals are blocked *before* the container exists and then taken with sigwaitinfo, so neither a
//! signal nor the init's exit can slip past between start and wait.

use anyhow::{bail, Result};

/// Signals that describe a fault of brig itself are never blocked.
const NOT_BLOCKED: &[i32] = &[
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGSYS,
];

pub struct Blocked {
    set: libc::sigset_t,
    old: libc::sigset_t,
}

/// Block every forwardable signal and SIGCHLD. The init resets its own mask before it runs anything.
pub fn block_signals() -> Blocked {
    // SAFETY: sigset manipulation and sigprocmask on this single-threaded process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for s in NOT_BLOCKED {
            libc::sigdelset(&mut set, *s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        Blocked { set, old }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: restore the mask saved in block_signals.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Wait for `pid` (our child) to exit, forwarding every other signal to it. Returns the exit code a shell
/// would show: the status, or 128 + the signal that killed it.
pub fn wait_forwarding(blocked: &Blocked, pid: i32) -> Result<i32> {
    loop {
        // SAFETY: sigwaitinfo on the set we blocked; info is plain data.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(&blocked.set, &mut info) };
        if sig < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            bail!("sigwaitinfo: {e}");
        }
        if sig == libc::SIGCHLD {
            if let Some(code) = reap(pid)? {
                return Ok(code);
            }
            continue;
        }
        // SAFETY: forward to the init, our own child.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Reap whatever exited; Some(code) once `pid` has.
fn reap(pid: i32) -> Result<Option<i32>> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child, non-blocking.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r == 0 {
            return Ok(None);
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ECHILD) {
                bail!("the container init is not brig's child");
            }
            return Err(e.into());
        }
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(Some(libc::WEXITSTATUS(status)));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(Some(128 + libc::WTERMSIG(status)));
            }
        }
    }
}

/// Like `wait_forwarding`, with brig holding the container's pty: stdin goes to the pty, the pty's output to
/// stdout. When stdin is a terminal it is put in raw mode (restored on return) and its window size follows
/// along (SIGWINCH). Signals arrive through a signalfd so one poll serves signals and both directions.
pub fn relay_and_wait(blocked: &Blocked, pid: i32, sock: &std::os::fd::OwnedFd) -> Result<i32> {
    use std::os::fd::AsRawFd;
    let master = super::console::receive_master(sock)?;
    let m = master.as_raw_fd();
    let tty_in = unsafe { libc::isatty(0) } == 1;
    let _raw = if tty_in { RawMode::enter(0) } else { None };
    if tty_in {
        copy_window_size(0, m);
    }
    // SAFETY: signalfd over the set this process has blocked.
    let sfd = unsafe { libc::signalfd(-1, &blocked.set, libc::SFD_CLOEXEC) };
    if sfd < 0 {
        bail!("signalfd: {}", std::io::Error::last_os_error());
    }
    let _sfd_guard = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(sfd) };
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if master_open { m } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: three valid pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            bail!("poll: {e}");
        }
        if fds[2].revents != 0 {
            match read_fd(m, &mut buf) {
                Some(n) if n > 0 => write_all(1, &buf[..n]),
                // EIO: every slave is closed (the process exited); its status comes with SIGCHLD.
                _ => master_open = false,
            }
        }
        if fds[1].revents != 0 {
            match read_fd(0, &mut buf) {
                Some(n) if n > 0 => write_all(m, &buf[..n]),
                _ => stdin_open = false,
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: reading one signalfd_siginfo record.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let n = unsafe {
                libc::read(
                    sfd,
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    std::mem::size_of_val(&info),
                )
            };
            if n <= 0 {
                continue;
            }
            match info.ssi_signo as i32 {
                libc::SIGCHLD => {
                    if let Some(code) = reap(pid)? {
                        // Whatever the process wrote last is still in the pty.
                        while master_open {
                            match read_fd_nonblocking(m, &mut buf) {
                                Some(n) if n > 0 => write_all(1, &buf[..n]),
                                _ => master_open = false,
                            }
                        }
                        return Ok(code);
                    }
                }
                libc::SIGWINCH if tty_in => copy_window_size(0, m),
                // SAFETY: forward to our child.
                sig => unsafe {
                    libc::kill(pid, sig);
                },
            }
        }
    }
}

fn read_fd(fd: i32, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: read into a buffer of the stated size.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then_some(n as usize)
}

fn read_fd_nonblocking(fd: i32, buf: &mut [u8]) -> Option<usize> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    if unsafe { libc::poll(&mut p, 1, 0) } <= 0 {
        return None;
    }
    read_fd(fd, buf)
}

fn write_all(fd: i32, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: write from a valid slice.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

fn copy_window_size(from: i32, to: i32) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a winsize struct.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// The user's terminal in raw mode for as long as this lives.
struct RawMode {
    fd: i32,
    saved: libc::termios,
}

impl RawMode {
    fn enter(fd: i32) -> Option<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on a terminal fd with a termios struct.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(fd, libc::TCSANOW, &raw);
            Some(RawMode { fd, saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restore what enter saved.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}
