//! OCI hooks: each runs with the container's state JSON on stdin, its own `env` only, and its `timeout`.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Hook, Hooks, Spec};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn of(self, hooks: &Hooks) -> Option<&Vec<Hook>> {
        #[allow(deprecated)]
        let list = match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        list.as_ref()
    }
}

/// The hooks of one kind in a spec (empty when there are none).
pub fn of_kind(spec: &Spec, kind: Kind) -> &[Hook] {
    spec.hooks()
        .as_ref()
        .and_then(|h| kind.of(h))
        .map(|v| v.as_slice())
        .unwrap_or(&[])
}

/// Run every hook of `kind` in order; the first failure stops the rest and is returned.
pub fn run(kind: Kind, hooks: &[Hook], state_json: &[u8]) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run_one(hook, state_json)
            .with_context(|| format!("{} hook #{i} ({})", kind.name(), hook.path().display()))?;
    }
    Ok(())
}

fn run_one(hook: &Hook, state_json: &[u8]) -> Result<()> {
    if let Some(t) = hook.timeout() {
        if t <= 0 {
            bail!("timeout must be a positive number of seconds, not {t}");
        }
    }
    // stdout and stderr go to a memory file so a chatty hook can never block on a full pipe.
    let out = memfd().context("cannot create output buffer")?;
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some(arg0) = args.first() {
            cmd.arg0(arg0);
        }
        cmd.args(args.iter().skip(1));
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out.try_clone()?))
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run: {}", lower(&e)))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json);
    }
    let status = match hook.timeout() {
        None => child.wait()?,
        Some(t) => match wait_timeout(&mut child, Duration::from_secs(t as u64))? {
            Some(s) => s,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("timed out after {t}s");
            }
        },
    };
    if status.success() {
        return Ok(());
    }
    let mut file = std::fs::File::from(out);
    let mut text = String::new();
    file.seek(std::io::SeekFrom::Start(0))?;
    let _ = file.take(4096).read_to_string(&mut text);
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".to_string(),
    };
    let text = text.trim();
    if text.is_empty() {
        bail!("{how}");
    }
    bail!("{how}: {}", text.replace('\n', " "))
}

/// io::Error's Display capitalizes ("No such file or directory"); docker and podman match the lower case.
pub fn lower(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    }
}

fn memfd() -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create with a static name; the fd is owned right away.
    let fd = unsafe { libc::memfd_create(c"brig-hook".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Wait for `child` at most `timeout`; a pidfd makes this a single poll instead of a sleep loop.
fn wait_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open on our own child's pid.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) } as i32;
    let pidfd = (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw) });
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match &pidfd {
            Some(fd) => {
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = left.as_millis().min(i32::MAX as u128) as i32;
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, ms.max(1)) };
            }
            None => std::thread::sleep(left.min(Duration::from_millis(10))),
        }
    }
}
