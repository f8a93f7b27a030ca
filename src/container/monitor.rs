//! `run -d` without a daemon: brig forks a small monitor that creates and starts the container as its own
//! child, tells brig how that went, and then stays only as long as the container runs. It copies the
//! container's stdout and stderr (or its terminal) into `container.log` line by line with the time of each
//! line, reaps the init, records the exit status in `exit.json`, and with `--rm` deletes the container.
//! brig itself returns as soon as the container runs (exit 1 with the error when it could not start).
//!
//! The monitor is in a session of its own and holds no fd of brig's caller (its stdio is /dev/null), so a
//! shell or `$(brig run -d ...)` never waits for it. If it is killed, the container keeps running but its
//! further output is lost (the pipe breaks) and no exit status is recorded: `ps` then shows it as "Stopped".

use super::lifecycle::{self, CreateOptions};
use super::logfile::{take_line, LogWriter, Stream};
use super::Container;
use anyhow::{bail, Context, Result};
use nix::poll::{PollFd, PollFlags};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub const EXIT_RECORD: &str = "exit.json";
/// A line longer than this is logged in pieces (a program that never writes a newline cannot fill memory).
const MAX_LINE: usize = 16 * 1024;

/// How a detached container ended, as its monitor saw it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ExitRecord {
    /// The exit status, or 128 + the signal that killed it (as a shell shows it).
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub finished_at: String,
}

pub fn read_exit_record(dir: &Path) -> Option<ExitRecord> {
    let text = std::fs::read(dir.join(EXIT_RECORD)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Record how the container ended (by whoever waited for it: the monitor, or a foreground `run --keep`).
/// Under the container's lock: a `delete` that is removing the directory must not see a file appear in it. A
/// container removed meanwhile (`rm -f`) gets no record.
pub fn write_exit_record(root: &Path, id: &str, exit_code: i32, signal: Option<i32>) {
    let Ok(c) = Container::load(root, id) else {
        return;
    };
    let record = ExitRecord {
        exit_code,
        signal,
        finished_at: super::now_rfc3339(),
    };
    if let Ok(json) = serde_json::to_vec(&record) {
        let _ = super::write_atomic(&c.dir.join(EXIT_RECORD), &json, 0o644);
    }
}

/// Create and start the container under a monitor; returns once it runs.
pub fn run_detached(root: &Path, opts: &CreateOptions, remove_on_exit: bool) -> Result<()> {
    // The monitor leaves the caller's directory: a relative --root must not change meaning.
    let root = &std::path::absolute(root).context("--root: cannot make it absolute")?;
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    // SAFETY: brig is single-threaded; the child only continues this program.
    match unsafe { nix::unistd::fork() }.context("cannot fork the container monitor")? {
        nix::unistd::ForkResult::Child => {
            drop(report_r);
            monitor(root, opts, remove_on_exit, report_w)
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(report_w);
            let mut report = String::new();
            let _ = std::fs::File::from(report_r).read_to_string(&mut report);
            match report.strip_prefix("ok") {
                Some(_) => Ok(()),
                None => {
                    let _ = nix::sys::wait::waitpid(child, None);
                    match report.strip_prefix("error ") {
                        Some(msg) => bail!("{}", msg.trim_end()),
                        None => bail!("the container monitor exited before the container started"),
                    }
                }
            }
        }
    }
}

/// The monitor process: never returns.
fn monitor(root: &Path, opts: &CreateOptions, remove_on_exit: bool, report: OwnedFd) -> ! {
    // Out of the caller's session: a ^C or hangup aimed at the shell does not reach the monitor.
    let _ = nix::unistd::setsid();
    let mut report = std::fs::File::from(report);
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("cannot open /dev/null");
    let (started, null) = match null.and_then(|null| Ok((start(root, opts, &null)?, null))) {
        Ok(s) => s,
        Err(e) => {
            let _ = write!(report, "error {}", format!("{e:#}").replace('\n', " "));
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(1) }
        }
    };
    let _ = report.write_all(b"ok");
    drop(report);
    for fd in 0..3 {
        // SAFETY: replace this process's stdio with /dev/null.
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }
    drop(null);
    // Hold nothing of the caller's: no descriptor (--preserve-fds ones went to the container), no directory.
    let mut keep: Vec<RawFd> = started
        .sources
        .iter()
        .map(|(fd, _)| fd.as_raw_fd())
        .collect();
    keep.extend(started.log.raw_fds());
    keep.push(crate::logs::raw_fd());
    crate::process::close_fds_except(&keep);
    let _ = std::env::set_current_dir("/");
    if let Some((exit_code, signal)) = relay(started.pid, started.sources, started.log) {
        write_exit_record(root, opts.id, exit_code, signal);
    }
    if remove_on_exit {
        if let Err(e) = lifecycle::delete(root, opts.id, true) {
            crate::logs::warn(&format!("--rm: {e:#}"));
        }
    }
    // SAFETY: as above.
    unsafe { libc::_exit(0) }
}

struct Started {
    pid: i32,
    sources: Vec<(OwnedFd, Stream)>,
    log: LogWriter,
}

fn start(root: &Path, opts: &CreateOptions, null: &std::fs::File) -> Result<Started> {
    let (out_r, out_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let (err_r, err_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    let opts = CreateOptions {
        stdio: Some([null.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()]),
        // The monitor waits for the init: it must be its child.
        child_of_caller: false,
        // A terminal without --console-socket is the monitor's to read.
        relay_terminal: opts.console_socket.is_none(),
        ..*opts
    };
    let created = lifecycle::create(root, &opts)?;
    drop((out_w, err_w));
    let dir = root.join(opts.id);
    let setup = (|| -> Result<Started> {
        let mut sources = vec![(out_r, Stream::Stdout), (err_r, Stream::Stderr)];
        if let Some(sock) = &created.relay {
            sources.push((
                crate::process::console::receive_master(sock)?,
                Stream::Stdout,
            ));
        }
        let log = LogWriter::open(&dir)?;
        lifecycle::start(&Container::load(root, opts.id)?)?;
        Ok(Started {
            pid: created.state.pid,
            sources,
            log,
        })
    })();
    if setup.is_err() {
        let _ = lifecycle::delete(root, opts.id, true);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(created.state.pid), None);
    }
    setup
}

/// One stream the monitor copies, with the start of a line not yet complete.
struct Source {
    fd: OwnedFd,
    stream: Stream,
    partial: Vec<u8>,
}

impl Source {
    /// Read once and log the complete lines. False at end of file (for a pty: EIO once every holder of the
    /// terminal is gone) or when nothing more can be read now.
    fn read_some(&mut self, log: &mut LogWriter) -> bool {
        let mut chunk = [0u8; 8192];
        let n = match nix::unistd::read(&self.fd, &mut chunk) {
            Err(nix::errno::Errno::EINTR) => return true,
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        self.partial.extend_from_slice(&chunk[..n]);
        while let Some(line) = take_line(&mut self.partial) {
            let _ = log.line(self.stream, &line);
        }
        if self.partial.len() > MAX_LINE {
            self.flush(log);
        }
        true
    }

    /// Log what is left as a line of its own.
    fn flush(&mut self, log: &mut LogWriter) {
        if !self.partial.is_empty() {
            let _ = log.line(self.stream, &self.partial);
            self.partial.clear();
        }
    }
}

/// Copy lines from `sources` into the log until the init exits (then whatever is left in the pipes), and reap
/// it. Returns (exit code, signal), or None when it could not be reaped.
fn relay(
    pid: i32,
    sources: Vec<(OwnedFd, Stream)>,
    mut log: LogWriter,
) -> Option<(i32, Option<i32>)> {
    // SAFETY: pidfd_open(2) of our own child; owned right away.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });
    let mut open: Vec<Source> = sources
        .into_iter()
        .map(|(fd, stream)| Source {
            fd,
            stream,
            partial: Vec::new(),
        })
        .collect();
    let mut exited = false;
    while !open.is_empty() && !exited {
        let mut fds: Vec<PollFd> = open
            .iter()
            .map(|s| s.fd.as_fd())
            .chain(pidfd.as_ref().map(|p| p.as_fd()))
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        exited = pidfd.is_some() && ready[open.len()];
        let mut next = ready.into_iter();
        open.retain_mut(|s| {
            let stays = !next.next().unwrap_or(false) || s.read_some(&mut log);
            if !stays {
                s.flush(&mut log);
            }
            stays
        });
    }
    // The init is gone: take what its processes left in the pipes without waiting for writers that outlive
    // it (possible without a pid namespace of its own).
    for mut s in open {
        // SAFETY: fcntl on an fd we own.
        unsafe { libc::fcntl(s.fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        while s.read_some(&mut log) {}
        s.flush(&mut log);
    }
    match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).ok()? {
        nix::sys::wait::WaitStatus::Exited(_, code) => Some((code, None)),
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => {
            Some((128 + sig as i32, Some(sig as i32)))
        }
        _ => None,
    }
}
