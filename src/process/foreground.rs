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
