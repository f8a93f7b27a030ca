//! The container init, from clone to execve. Single-threaded by construction (brig starts no threads);
//! every step is a syscall or a call into rootfs/ or security/. A failure is sent to the parent as text and
//! the init exits; after READY the parent is gone and failures go to the container's stderr.

use super::channel::{self, Channel};
use super::{console, fifo, InitConfig, Prepared, ProcessPrep};
use crate::{hooks, rootfs, security};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub(super) fn run(cfg: &InitConfig, prep: &Prepared, chan: &Channel) -> ! {
    report_and_exit(chan, setup_and_exec(cfg, prep, chan))
}

/// The end of a process brig forked that did not reach execve: the error goes to brig as text, or, when brig is
/// gone (the failure came after READY), to the process's own stderr.
pub(super) fn report_and_exit(chan: &Channel, result: Result<Infallible>) -> ! {
    let err = match result {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let msg = format!("{err:#}");
    if chan.send(channel::ERROR, msg.as_bytes()).is_err() {
        eprintln!("brig: {msg}");
    }
    // SAFETY: leave without running destructors or atexit handlers of the parent's copy.
    unsafe { libc::_exit(127) }
}

fn setup_and_exec(cfg: &InitConfig, prep: &Prepared, chan: &Channel) -> Result<Infallible> {
    reset_signals();
    if let Some(fds) = cfg.stdio {
        for (target, fd) in fds.into_iter().enumerate() {
            // SAFETY: dup2 onto 0..2 of this process; the sources are open descriptors brig made.
            if unsafe { libc::dup2(fd, target as i32) } < 0 {
                bail!("cannot set up stdio: {}", std::io::Error::last_os_error());
            }
        }
    }
    // Whatever else brig had open (the state-dir lock above all: start must be able to take it) goes now.
    let console_fd = prep.process.console.as_ref().map_or(-1, |c| c.as_raw_fd());
    let own = [
        chan.raw(),
        prep.state_dir_fd.as_raw_fd(),
        console_fd,
        crate::logs::raw_fd(),
    ];
    close_other_fds(3 + cfg.preserve_fds as i32, &own);
    // SAFETY: umask cannot fail. Nodes and files made during setup get exactly the modes asked for.
    unsafe { libc::umask(0) };
    let process = cfg.spec.process().as_ref().context("process is missing")?;
    let payload = chan.expect(channel::GO)?;
    let text = String::from_utf8_lossy(&payload);
    let (creating_state, created_state) = text.split_once('\n').unwrap_or((&text, &text));

    // Namespaces the parent could not hand us ready-made.
    if let Some(path) = &prep.ns.join_user_in_init {
        let f = std::fs::File::open(path)
            .with_context(|| format!("user namespace {}: cannot open", path.display()))?;
        nix::sched::setns(f, CloneFlags::CLONE_NEWUSER)
            .with_context(|| format!("user namespace {}: cannot join", path.display()))?;
    }
    if !prep.ns.unshare_in_init.is_empty() {
        nix::sched::unshare(prep.ns.unshare_in_init).context("cannot create namespaces")?;
    }
    if prep.ns.in_userns {
        // Become root of the user namespace (the maps are written by now).
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .context("cannot become gid 0 in the user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .context("cannot become uid 0 in the user namespace")?;
    }
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .context("process.oomScoreAdj")?;
    }
    if let Some(h) = cfg.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).context("cannot set hostname")?;
    }
    if let Some(d) = cfg.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    if !cfg.no_new_keyring {
        join_session_keyring(cfg.id);
    }

    let ctx = rootfs::RootfsContext {
        spec: cfg.spec,
        rootfs: cfg.rootfs,
        bundle: cfg.bundle,
        in_userns: prep.ns.in_userns,
        own_cgroupns: prep.ns.own_cgroup,
    };
    rootfs::prepare(&ctx)?;
    // prestart and createRuntime run in the runtime's namespaces: the parent runs them.
    if prep.runtime_hooks {
        chan.send(channel::RUN_HOOKS, &[])?;
        chan.expect(channel::HOOKS_DONE)?;
    }
    hooks::run(
        hooks::Kind::CreateContainer,
        hooks::of_kind(cfg.spec, hooks::Kind::CreateContainer),
        creating_state.as_bytes(),
    )?;
    rootfs::pivot(cfg.rootfs, cfg.no_pivot)?;
    rootfs::finalize(cfg.spec, prep.ns.in_userns)?;

    // A new session; with a terminal, the pty becomes its controlling terminal and our stdio.
    nix::unistd::setsid().context("setsid failed")?;
    if let Some(sock) = &prep.process.console {
        console::setup_pty(sock.as_raw_fd(), prep.process.console_size)?;
    }
    let (exe, envp) = become_process(process, &prep.process, chan)?;
    close_fds_on_exec(cfg.preserve_fds, &own);

    chan.send(channel::READY, &[])?;
    fifo::wait_for_start(prep.state_dir_fd.as_raw_fd())?;
    hooks::run(
        hooks::Kind::StartContainer,
        hooks::of_kind(cfg.spec, hooks::Kind::StartContainer),
        created_state.as_bytes(),
    )?;
    let err = nix::unistd::execve(&exe, &prep.process.args, &envp).unwrap_err();
    bail!(
        "exec {}: {}",
        exe.to_string_lossy(),
        err.desc().to_lowercase()
    )
}

/// The last steps before execve, shared by the init and by `exec`: rlimits, bounding set, user and groups,
/// capabilities, umask, cwd, no_new_privs, HOME, and the executable looked up the way runc does. Returns the
/// program path and the environment.
pub(super) fn become_process(
    process: &Process,
    p: &ProcessPrep,
    chan: &Channel,
) -> Result<(CString, Vec<CString>)> {
    if let Some(profile) = &p.apparmor {
        security::apply_apparmor(profile)?;
    }
    security::rlimits::apply(&p.rlimits)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let (Some(filter), false) = (&p.seccomp, nnp) {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: now, before capabilities go.
        load_seccomp(filter, p, chan)?;
    }
    security::capabilities::drop_bounding(&p.caps)?;
    let user = process.user();
    let groups = user.additional_gids().clone().unwrap_or_default();
    security::user::switch(user.uid(), user.gid(), &groups)?;
    security::capabilities::apply(&p.caps)?;
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(user.umask().unwrap_or(0o022) as libc::mode_t) };
    nix::unistd::chdir(process.cwd()).map_err(|e| {
        anyhow::anyhow!(
            "process.cwd {}: cannot enter: {}",
            process.cwd().display(),
            e.desc().to_lowercase()
        )
    })?;
    if nnp {
        security::set_no_new_privs()?;
    }
    let mut env = p.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", security::user::home_of(user.uid())));
    }
    let exe = find_executable(&p.args, &env)?;
    let envp = env
        .iter()
        .map(|e| CString::new(e.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(filter), true) = (&p.seccomp, nnp) {
        // As close to execve as possible: the fewer syscalls after it, the fewer a profile must allow.
        load_seccomp(filter, p, chan)?;
    }
    Ok((exe, envp))
}

/// Load the filter; a notify listener fd goes to brig (which hands it to listenerPath) and is closed here:
/// the container's program must never hold it.
fn load_seccomp(
    filter: &libseccomp::ScmpFilterContext,
    p: &ProcessPrep,
    chan: &Channel,
) -> Result<()> {
    if let Some(fd) = security::seccomp::load(filter, p.seccomp_listener.is_some())? {
        chan.send_fd(channel::SECCOMP_FD, &fd)?;
    }
    Ok(())
}

/// Default dispositions and an empty mask: Rust ignores SIGPIPE and a foreground `run` blocks the signals it
/// forwards; neither may leak into the container.
pub(super) fn reset_signals() {
    // SAFETY: resetting dispositions and the mask of this single-threaded process.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

fn set_domainname(d: &str) -> Result<()> {
    // SAFETY: setdomainname with a buffer and its length.
    if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
        bail!("cannot set domainname: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// A fresh session keyring so containers do not share the host's keys (as runc; failures are not fatal on
/// kernels without keyrings).
fn join_session_keyring(id: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    if let Ok(name) = CString::new(format!("_ses.{id}")) {
        // SAFETY: keyctl with a valid C string.
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    }
}

/// Resolve args[0] the way runc does before it reports ready: a path is checked as is, a bare name is looked
/// up in the process's PATH. The messages keep the lower-case phrases docker and podman map to exit 127/126.
fn find_executable(args: &[CString], env: &[String]) -> Result<CString> {
    let name = args[0].to_string_lossy().into_owned();
    if name.contains('/') {
        return check_executable(Path::new(&name), &name).map(|_| args[0].clone());
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = PathBuf::from(dir).join(&name);
        if check_executable(&candidate, &name).is_ok() {
            return Ok(CString::new(
                candidate.into_os_string().into_encoded_bytes(),
            )?);
        }
    }
    bail!("exec: \"{name}\": executable file not found in $PATH")
}

fn check_executable(p: &Path, name: &str) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| {
        anyhow::anyhow!(
            "exec: \"{name}\": stat {}: {}",
            p.display(),
            hooks::lower(&e)
        )
    })?;
    if meta.is_dir() {
        bail!(
            "exec: \"{name}\": {} is a directory: permission denied",
            p.display()
        );
    }
    let c = CString::new(p.as_os_str().as_encoded_bytes())?;
    // SAFETY: faccessat with a valid path, checking the effective ids we will exec with.
    if unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::X_OK, libc::AT_EACCESS) } != 0 {
        bail!("exec: \"{name}\": {}: permission denied", p.display());
    }
    Ok(())
}

/// Close every fd from `first` on except `keep` (brig's own, still needed until exec).
pub(super) fn close_other_fds(first: i32, keep: &[i32]) {
    let mut keep: Vec<i32> = keep.iter().copied().filter(|fd| *fd >= first).collect();
    keep.sort_unstable();
    let mut lo = first;
    for fd in keep.into_iter().chain(std::iter::once(i32::MAX)) {
        if fd > lo {
            // SAFETY: closing fds this process does not use; close_range ignores unopened ones.
            unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    lo as libc::c_uint,
                    (fd - 1) as libc::c_uint,
                    0,
                )
            };
        }
        lo = fd.saturating_add(1);
    }
}

/// Every fd from 3 + preserve_fds on is closed at exec; the preserved ones are handed over (not close-on-exec),
/// except brig's own, which stay close-on-exec wherever they are.
pub(super) fn close_fds_on_exec(preserve: u32, own: &[i32]) {
    let first = 3 + preserve;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only marks fds; fcntl on fds in the preserved range.
    unsafe {
        const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
        if libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
                let fds: Vec<i32> = dir
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect();
                for fd in fds.into_iter().filter(|fd| *fd >= first as i32) {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
        }
        for fd in 3..first as i32 {
            if !own.contains(&fd) {
                libc::fcntl(fd, libc::F_SETFD, 0);
            }
        }
    }
}
