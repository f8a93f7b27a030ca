//! Spawning the container init: everything the init needs is prepared here before the clone, so the code
//! between clone and execve (init.rs) only makes syscalls. One clone: namespaces joined by path are entered by
//! this (single-threaded) process around the clone, so no intermediate process is needed.

pub mod channel;
pub mod console;
pub mod exec;
pub mod fifo;
pub mod foreground;
mod init;
pub mod namespaces;

use crate::security::{capabilities::CapSets, rlimits::Rlimit};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxSeccomp, Process, Spec};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// What the caller decides about a new init.
pub struct InitConfig<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub state_dir: &'a Path,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub console_socket: Option<&'a Path>,
    /// With a terminal and no console socket: brig receives the pty itself and relays (foreground run).
    pub relay_terminal: bool,
    /// Make the init a child of brig's caller (create) rather than of brig (run).
    pub child_of_caller: bool,
    /// The container's stdin, stdout and stderr when they are not brig's own (`run -d` logs to a file).
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
}

/// The parent's part of the setup, called while the init waits.
pub trait Supervisor {
    /// The init exists (host pid) and has not run anything of the container's yet: place it in its cgroup.
    fn placed(&mut self, pid: i32) -> Result<()>;
    /// The state JSON given to hooks, for `status`.
    fn state_json(&self, pid: i32, status: &str) -> Vec<u8>;
    /// Run the prestart and createRuntime hooks (rootfs is mounted, pivot_root not done yet).
    fn runtime_hooks(&mut self, pid: i32) -> Result<()>;
    fn has_runtime_hooks(&self) -> bool;
}

/// Where seccomp notifications go: `listenerPath` and `listenerMetadata`.
pub(crate) type Listener = (std::path::PathBuf, String);

/// A process's settings resolved before the clone (shared by the init and by `exec`).
pub(crate) struct ProcessPrep {
    pub args: Vec<CString>,
    pub env: Vec<String>,
    pub caps: CapSets,
    pub rlimits: Vec<Rlimit>,
    pub console: Option<OwnedFd>,
    pub console_size: Option<(u16, u16)>,
    /// Built here, loaded by the process itself just before execve.
    pub seccomp: Option<libseccomp::ScmpFilterContext>,
    /// brig's end of the console socketpair when brig relays the terminal itself.
    pub relay: Option<OwnedFd>,
    /// linux.seccomp.listenerPath and listenerMetadata, when the filter notifies a listener.
    pub seccomp_listener: Option<Listener>,
    /// The AppArmor profile to confine the program with (None when the host has AppArmor disabled).
    pub apparmor: Option<String>,
}

/// Prepared before the clone, read by the init.
pub(crate) struct Prepared {
    pub process: ProcessPrep,
    pub ns: namespaces::NamespacePlan,
    pub state_dir_fd: OwnedFd,
    /// Whether the init must stop for prestart/createRuntime hooks (one round trip saved when not).
    pub runtime_hooks: bool,
}

/// Check and convert a process's args, env, capabilities and rlimits, and connect its console socket.
pub(crate) fn prepare_process(
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
    console_socket: Option<&Path>,
    relay_terminal: bool,
) -> Result<ProcessPrep> {
    let args = process
        .args()
        .iter()
        .flatten()
        .map(|a| CString::new(a.as_str()).context("process.args: an argument contains a NUL byte"))
        .collect::<Result<Vec<_>>>()?;
    if args.is_empty() {
        bail!("process.args must name a program");
    }
    let env = process.env().clone().unwrap_or_default();
    if env.iter().any(|e| e.contains('\0')) {
        bail!("process.env: a variable contains a NUL byte");
    }
    let caps = crate::security::capabilities::from_spec(process.capabilities().as_ref())?;
    let rlimits = crate::security::rlimits::from_spec(process.rlimits().as_deref().unwrap_or(&[]))?;
    let terminal = process.terminal().unwrap_or(false);
    let mut relay = None;
    let console = match (terminal, console_socket) {
        (true, Some(path)) => Some(console::connect_socket(path)?),
        (true, None) if relay_terminal => {
            let (ours, theirs) = console::socketpair()?;
            relay = Some(ours);
            Some(theirs)
        }
        (true, None) => {
            bail!("process.terminal is true: a --console-socket is needed to receive the terminal")
        }
        (false, Some(_)) => bail!("--console-socket was given but process.terminal is false"),
        (false, None) => None,
    };
    let console_size = process
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    let seccomp_listener = seccomp.and_then(|s| {
        let path = s
            .listener_path()
            .clone()
            .filter(|p| !p.as_os_str().is_empty())?;
        Some((path, s.listener_metadata().clone().unwrap_or_default()))
    });
    let seccomp = seccomp.map(crate::security::seccomp::build).transpose()?;
    Ok(ProcessPrep {
        args,
        env,
        caps,
        rlimits,
        console,
        console_size,
        seccomp,
        relay,
        seccomp_listener,
        apparmor: crate::security::apparmor_profile(process.apparmor_profile().as_deref()),
    })
}

fn prepare(cfg: &InitConfig) -> Result<Prepared> {
    let process = cfg
        .spec
        .process()
        .as_ref()
        .context("config.json: process is missing")?;
    let seccomp = cfg.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let mut process = prepare_process(process, seccomp, cfg.console_socket, cfg.relay_terminal)?;
    let listen = listen_fds();
    if listen > 0 {
        // The activated program finds its sockets as systemd would hand them to it (it is the init, pid 1).
        process
            .env
            .retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        process.env.push(format!("LISTEN_FDS={listen}"));
        process.env.push("LISTEN_PID=1".to_string());
    }
    let dir = std::ffi::CString::new(cfg.state_dir.as_os_str().as_encoded_bytes())?;
    // SAFETY: open(2) on a path we created; owned right away.
    let fd = unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        bail!(
            "cannot open {}: {}",
            cfg.state_dir.display(),
            std::io::Error::last_os_error()
        );
    }
    let state_dir_fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Prepared {
        process,
        ns: namespaces::plan(cfg.spec),
        state_dir_fd,
        runtime_hooks: false,
    })
}

/// Close every fd from 3 on except `keep` (the monitor of `run -d` keeps nothing of its caller's).
pub fn close_fds_except(keep: &[std::os::fd::RawFd]) {
    init::close_other_fds(3, keep);
}

/// Sockets handed over by systemd socket activation (`LISTEN_FDS=n` in brig's environment, fds 3..3+n):
/// they go to the container first, before the `--preserve-fds` ones, as runc passes them.
pub fn listen_fds() -> u32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Occupy fds 3..3+n that the caller did not open (with /dev/null), so none of brig's own descriptors can
/// land in the range handed to the container. Call before opening anything else.
pub fn reserve_preserved_fds(n: u32) {
    for fd in 3..3 + n as i32 {
        // SAFETY: probing and filling descriptor slots of this process.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 && null != fd {
                    libc::dup2(null, fd);
                    libc::close(null);
                }
            }
        }
    }
}

/// A fork-like clone(2): no new stack, the child continues from here on a copy of this single-threaded
/// process. Returns 0 in the child, the child's host pid in the parent.
pub(crate) fn clone_process(flags: libc::c_ulong) -> std::io::Result<i32> {
    // SAFETY: without CLONE_VM the child gets its own copy of memory; brig has no other threads.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid as i32)
}

/// Kill a process whose setup failed, and reap it when it is brig's own child.
pub(crate) fn abandon(pid: i32, child_of_caller: bool) {
    // SAFETY: kill(2) on the process brig has just made.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    if !child_of_caller {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    }
}

/// A process brig started: its host pid, and brig's end of the console socket when brig relays the terminal.
pub struct Spawned {
    pub pid: i32,
    pub relay: Option<OwnedFd>,
}

/// Spawn the init and drive its setup to the point where it waits for `start`.
/// On failure the init is killed; the caller removes what it made.
pub fn spawn_init(cfg: &InitConfig, sup: &mut dyn Supervisor) -> Result<Spawned> {
    let mut prep = prepare(cfg)?;
    prep.runtime_hooks = sup.has_runtime_hooks();
    let (parent_end, init_end) = channel::pair()?;
    let mut flags = prep.ns.clone_flags;
    if cfg.child_of_caller {
        flags |= CloneFlags::CLONE_PARENT;
    }
    let saved = namespaces::enter_for_clone(&prep.ns)?;
    let cloned = clone_process(flags.bits() as libc::c_ulong);
    if let Ok(0) = cloned {
        drop(parent_end);
        init::run(cfg, &prep, &init_end);
    }
    let left = namespaces::leave(&saved);
    drop(init_end);
    let pid =
        cloned.map_err(|e| anyhow::anyhow!("cannot create the container init (clone): {e}"))?;
    let result = left.and_then(|_| drive(cfg, &prep, &parent_end, sup, pid));
    if let Err(e) = result {
        abandon(pid, cfg.child_of_caller);
        return Err(e);
    }
    Ok(Spawned {
        pid,
        relay: prep.process.relay.take(),
    })
}

fn drive(
    cfg: &InitConfig,
    prep: &Prepared,
    chan: &channel::Channel,
    sup: &mut dyn Supervisor,
    pid: i32,
) -> Result<()> {
    if prep.ns.new_user {
        write_id_maps(cfg.spec, pid)?;
    }
    sup.placed(pid)?;
    let creating = sup.state_json(pid, "creating");
    let mut payload = creating.clone();
    payload.push(b'\n');
    payload.extend(sup.state_json(pid, "created"));
    chan.send(channel::GO, &payload)?;
    let creating: serde_json::Value = serde_json::from_slice(&creating).unwrap_or_default();
    let listener = prep.process.seccomp_listener.as_ref();
    await_ready(chan, listener, pid, &creating, || {
        let r = sup.runtime_hooks(pid);
        if let Err(e) = &r {
            chan.send(channel::ERROR, format!("{e:#}").as_bytes())?;
        }
        r?;
        chan.send(channel::HOOKS_DONE, &[])
    })
}

/// Serve a starting process until it reports READY: run the runtime hooks when it asks (`on_run_hooks`), hand a
/// seccomp notify fd on to its listener, turn ERROR or a closed channel into an error.
pub(crate) fn await_ready(
    chan: &channel::Channel,
    listener: Option<&Listener>,
    pid: i32,
    state: &serde_json::Value,
    mut on_run_hooks: impl FnMut() -> Result<()>,
) -> Result<()> {
    loop {
        match chan.recv_with_fd()? {
            Some((channel::RUN_HOOKS, _, _)) => on_run_hooks()?,
            Some((channel::SECCOMP_FD, _, fd)) => forward_to_listener(listener, pid, state, fd)?,
            Some((channel::READY, _, _)) => return Ok(()),
            Some((channel::ERROR, msg, _)) => bail!("{}", String::from_utf8_lossy(&msg)),
            Some((t, _, _)) => bail!("sync socket: unexpected message {:?}", t as char),
            None => bail!("the process exited during setup"),
        }
    }
}

/// Send the seccomp notify fd with the container process state to `listenerPath`, as the runtime spec says.
fn forward_to_listener(
    listener: Option<&Listener>,
    pid: i32,
    state: &serde_json::Value,
    fd: Option<OwnedFd>,
) -> Result<()> {
    let (Some((path, metadata)), Some(fd)) = (listener, fd) else {
        bail!("a seccomp notify fd arrived without a linux.seccomp.listenerPath");
    };
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        anyhow::anyhow!(
            "linux.seccomp.listenerPath {}: cannot connect: {}",
            path.display(),
            crate::hooks::lower(&e)
        )
    })?;
    let message = crate::security::seccomp::listener_message(pid, metadata, state);
    channel::send_with_fd(stream.as_raw_fd(), &message, fd.as_raw_fd()).map_err(|e| {
        anyhow::anyhow!(
            "linux.seccomp.listenerPath {}: cannot send: {e}",
            path.display()
        )
    })?;
    Ok(())
}

fn write_id_maps(spec: &Spec, pid: i32) -> Result<()> {
    let linux = spec
        .linux()
        .as_ref()
        .context("user namespace without linux section")?;
    let fmt = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
        maps.iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    for (file, text) in [
        ("uid_map", fmt(linux.uid_mappings())),
        ("gid_map", fmt(linux.gid_mappings())),
    ] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, &text).map_err(|e| {
            anyhow::anyhow!(
                "linux.{}: cannot write {path}: {}",
                if file == "uid_map" {
                    "uidMappings"
                } else {
                    "gidMappings"
                },
                crate::hooks::lower(&e)
            )
        })?;
    }
    Ok(())
}
