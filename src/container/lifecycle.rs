//! The lifecycle operations the verbs are made of: create, start, kill, delete. Policy lives here (what
//! happens in which order, what is cleaned up on failure); mechanisms live in process/, rootfs/, cgroups/.

use super::{status, Container, NewContainerDir, Op, State, Status};
use crate::cgroups::{self, CgroupPlace};
use crate::hooks::{self, Kind};
use crate::process::{self, InitConfig, Supervisor};
use crate::rootfs;
use crate::spec::{self, Bundle};
use anyhow::{Context, Result};
use oci_spec::runtime::Spec;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub edits: &'a crate::cli::SpecEdits,
    /// The container's stdio when it is not brig's own (`run -d` gives it the log pipes).
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// create and `run -d`: the init becomes a child of brig's caller. Foreground `run`: of brig.
    pub child_of_caller: bool,
    /// Foreground `run` with a terminal and no console socket: brig relays the pty itself.
    pub relay_terminal: bool,
}

/// A created container, and brig's end of the console socket when brig relays its terminal.
pub struct Created {
    pub state: State,
    pub relay: Option<std::os::fd::OwnedFd>,
}

/// The parent's side of the init's setup: cgroup placement and the runtime-namespace hooks.
struct CreateSupervisor<'a> {
    id: &'a str,
    bundle: &'a Bundle,
    cgroup: Option<&'a CgroupPlace>,
    created: String,
}

impl CreateSupervisor<'_> {
    fn state(&self, pid: i32) -> State {
        State {
            id: self.id.to_string(),
            pid,
            pid_start_time: 0,
            bundle: self.bundle.dir.clone(),
            rootfs: self.bundle.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.bundle.spec.annotations().clone().unwrap_or_default(),
            cgroup: self.cgroup.cloned(),
            own_pid_ns: false,
            overlay: self.bundle.overlay,
        }
    }
}

impl Supervisor for CreateSupervisor<'_> {
    fn placed(&mut self, pid: i32) -> Result<()> {
        match self.cgroup {
            Some(place) => cgroups::join(place, pid),
            None => Ok(()),
        }
    }

    fn state_json(&self, pid: i32, status: &str) -> Vec<u8> {
        hook_state_json(&self.state(pid), status)
    }

    fn runtime_hooks(&mut self, pid: i32) -> Result<()> {
        let state = self.state_json(pid, "creating");
        hooks::run(
            Kind::Prestart,
            hooks::of_kind(&self.bundle.spec, Kind::Prestart),
            &state,
        )?;
        hooks::run(
            Kind::CreateRuntime,
            hooks::of_kind(&self.bundle.spec, Kind::CreateRuntime),
            &state,
        )
    }

    fn has_runtime_hooks(&self) -> bool {
        !hooks::of_kind(&self.bundle.spec, Kind::Prestart).is_empty()
            || !hooks::of_kind(&self.bundle.spec, Kind::CreateRuntime).is_empty()
    }
}

/// The state JSON hooks read on stdin, with the status the spec gives for that moment.
fn hook_state_json(state: &State, status: &str) -> Vec<u8> {
    let mut v = serde_json::to_value(state.oci(Status::Running)).unwrap_or_default();
    v["status"] = status.into();
    if status == "stopped" {
        v["pid"] = 0.into();
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Create a container: state dir, volume dirs, overlay layer, cgroup, init waiting on exec.fifo, state.json,
/// pid file. On any error everything made so far is removed again.
pub fn create(root: &Path, opts: &CreateOptions) -> Result<Created> {
    super::validate_id(opts.id)?;
    let bundle = spec::load(opts.bundle, opts.edits)?;
    let dir_guard = NewContainerDir::create(root, opts.id)?;
    let dir = dir_guard.dir.clone();
    let mut made = Made::default();
    let result = create_in(&dir, opts, &bundle, &mut made);
    match result {
        Ok(created) => {
            dir_guard.keep();
            Ok(created)
        }
        Err(e) => {
            made.undo(&dir);
            Err(e)
        }
    }
}

/// What a create made outside its state directory, to undo when it fails.
#[derive(Default)]
struct Made {
    volume_dirs: Vec<std::path::PathBuf>,
    overlay: bool,
    cgroup: Option<CgroupPlace>,
}

impl Made {
    fn undo(&self, dir: &Path) {
        if let Some(cg) = &self.cgroup {
            let _ = cgroups::remove(cg);
        }
        if self.overlay {
            // Must succeed before the state directory is removed, or the removal would walk the merged tree.
            if let Err(e) = rootfs::overlay::unmount(dir) {
                crate::logs::warn(&format!("{e:#}"));
            }
        }
        spec::edits::remove_made_dirs(&self.volume_dirs);
    }
}

fn create_in(
    dir: &Path,
    opts: &CreateOptions,
    bundle: &Bundle,
    made: &mut Made,
) -> Result<Created> {
    made.volume_dirs = spec::edits::create_volume_dirs(&bundle.volumes)?;
    let rootfs = if bundle.overlay {
        let merged = rootfs::overlay::mount(&bundle.rootfs, dir)?;
        made.overlay = true;
        merged
    } else {
        bundle.rootfs.clone()
    };
    let config_copy = serde_json::to_vec(&bundle.spec)?;
    super::write_atomic(&dir.join(super::CONFIG_COPY), &config_copy, 0o600)?;
    process::fifo::create(dir)?;
    let linux = bundle.spec.linux().as_ref();
    let cgroup = cgroups::create(
        linux.and_then(|l| l.cgroups_path().as_deref()),
        opts.id,
        linux.and_then(|l| l.resources().as_ref()),
    )?;
    made.cgroup = Some(cgroup.clone());
    let mut sup = CreateSupervisor {
        id: opts.id,
        bundle,
        cgroup: Some(&cgroup),
        created: super::now_rfc3339(),
    };
    let cfg = InitConfig {
        id: opts.id,
        spec: &bundle.spec,
        rootfs: &rootfs,
        bundle: &bundle.dir,
        state_dir: dir,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        console_socket: opts.console_socket,
        relay_terminal: opts.relay_terminal,
        child_of_caller: opts.child_of_caller,
        stdio: opts.stdio,
    };
    let spawned = process::spawn_init(&cfg, &mut sup)?;
    let pid = spawned.pid;
    let mut state = sup.state(pid);
    state.own_pid_ns = process::namespaces::plan(&bundle.spec).own_pid;
    state.pid_start_time = match super::proc_stat(pid) {
        Some((_, start)) => start,
        None => {
            process::abandon(pid, opts.child_of_caller);
            anyhow::bail!("the container init (pid {pid}) exited during create");
        }
    };
    let written = super::write_state(dir, &state).and_then(|_| match opts.pid_file {
        Some(p) => write_pid_file(p, pid),
        None => Ok(()),
    });
    if let Err(e) = written {
        process::abandon(pid, opts.child_of_caller);
        return Err(e);
    }
    Ok(Created {
        state,
        relay: spawned.relay,
    })
}

/// The pid file holds the init's host pid, written atomically (relative paths are taken from brig's cwd).
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    super::write_atomic(&abs, pid.to_string().as_bytes(), 0o644)
        .with_context(|| format!("--pid-file {}", path.display()))
}

/// The spec recorded at create (hooks must run even if the bundle changed or is gone).
pub fn recorded_spec(dir: &Path) -> Result<Spec> {
    let path = dir.join(super::CONFIG_COPY);
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is corrupt", path.display()))
}

/// Release a created container's init; run poststart hooks. A failing poststart hook kills the container and
/// fails start (runc's behaviour; the spec would only warn).
pub fn start(c: &Container) -> Result<()> {
    status::check(c.id(), c.status(), Op::Start)?;
    let (pid, started) = (c.state.pid, c.state.pid_start_time);
    process::fifo::release(&c.dir, || super::process_alive(pid, started))?;
    let spec = recorded_spec(&c.dir)?;
    let poststart = hooks::of_kind(&spec, Kind::Poststart);
    if !poststart.is_empty() {
        if let Err(e) = hooks::run(
            Kind::Poststart,
            poststart,
            &hook_state_json(&c.state, "running"),
        ) {
            kill_all(c, libc::SIGKILL);
            return Err(e);
        }
    }
    Ok(())
}

/// Signal the init, or with `all` every process of the container.
pub fn kill(c: &Container, sig: i32, all: bool) -> Result<()> {
    status::check(c.id(), c.status(), Op::Kill)?;
    if all {
        if let Some(place) = &c.state.cgroup {
            return cgroups::signal_all(place, sig);
        }
    }
    // SAFETY: kill(2) on the recorded init, whose start time the status check just confirmed.
    if unsafe { libc::kill(c.state.pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            anyhow::bail!(
                "container {}: no such process: container not running",
                c.id()
            );
        }
        anyhow::bail!("cannot signal container {}: {}", c.id(), hooks::lower(&e));
    }
    Ok(())
}

fn kill_all(c: &Container, sig: i32) {
    match &c.state.cgroup {
        Some(place) => {
            let _ = cgroups::signal_all(place, sig);
        }
        None => {
            // SAFETY: signal the recorded init pid (its start time was checked by the caller's status).
            unsafe { libc::kill(c.state.pid, sig) };
        }
    }
}

/// Delete: kill what is left (created always; running or paused only with `force`), remove the cgroup, run
/// poststop hooks (failures are warnings, as the spec says), remove the state directory.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(e) if force && e.to_string().ends_with("does not exist") => return Ok(()),
        Err(e) if force && root.join(id).is_dir() => {
            // A half-written container (crash during create): remove what is there.
            crate::logs::warn(&format!("{e:#}: removing it"));
            rootfs::overlay::unmount(&root.join(id))?;
            return super::remove_dir(&root.join(id));
        }
        Err(e) => return Err(e),
    };
    remove(c, force)
}

/// `delete` of a loaded container.
pub fn remove(c: Container, force: bool) -> Result<()> {
    let status = c.status();
    status::check(c.id(), status, Op::Delete { force })?;
    if status != Status::Stopped {
        if status == Status::Paused {
            if let Some(place) = &c.state.cgroup {
                let _ = cgroups::set_frozen(place, false);
            }
        }
        kill_all(&c, libc::SIGKILL);
        wait_stopped(&c, Duration::from_secs(10))?;
    }
    destroy(&c)
}

fn wait_stopped(c: &Container, timeout: Duration) -> Result<()> {
    if !wait_exit(&c.state, timeout) {
        anyhow::bail!("container {} did not stop after SIGKILL", c.id());
    }
    Ok(())
}

/// Wait up to `timeout` for the init to be gone; false if it is still there.
fn wait_exit(state: &State, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while super::process_alive(state.pid, state.pid_start_time) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// How `stop` ended a container.
#[derive(Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// It had stopped already.
    WasStopped,
    /// It exited after SIGTERM.
    Terminated,
    /// It was still running `timeout` after SIGTERM (or was never started) and got SIGKILL.
    Killed,
}

/// `stop`: SIGTERM to the init, up to `timeout` for it to exit, then SIGKILL to every process. A created
/// container has nothing of the user's running yet and is killed at once. The lock is not held while waiting.
pub fn stop(root: &Path, id: &str, timeout: Duration) -> Result<StopOutcome> {
    let c = Container::load(root, id)?;
    let status = c.status();
    match status {
        Status::Stopped => return Ok(StopOutcome::WasStopped),
        Status::Created => return kill_now(&c),
        Status::Running | Status::Paused => kill(&c, libc::SIGTERM, false)?,
    }
    if status == Status::Paused {
        // A frozen process cannot act on SIGTERM: thaw it so it can (docker does the same).
        cgroups::set_frozen(cgroup_of(&c)?, false)?;
    }
    let state = c.state.clone();
    drop(c);
    if wait_exit(&state, timeout) {
        return Ok(StopOutcome::Terminated);
    }
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Ok(StopOutcome::Terminated);
    }
    kill_now(&c)
}

fn kill_now(c: &Container) -> Result<StopOutcome> {
    kill_all(c, libc::SIGKILL);
    wait_stopped(c, Duration::from_secs(10))?;
    Ok(StopOutcome::Killed)
}

fn destroy(c: &Container) -> Result<()> {
    if let Some(place) = &c.state.cgroup {
        // Processes outside the init's pid namespace may still be in the cgroup.
        if !c.state.own_pid_ns {
            let _ = cgroups::signal_all(place, libc::SIGKILL);
        }
        cgroups::remove(place)?;
    }
    let spec = recorded_spec(&c.dir).ok();
    if let Some(spec) = &spec {
        let poststop = hooks::of_kind(spec, Kind::Poststop);
        if !poststop.is_empty() {
            if let Err(e) = hooks::run(
                Kind::Poststop,
                poststop,
                &hook_state_json(&c.state, "stopped"),
            ) {
                crate::logs::warn(&format!("{e:#}"));
            }
        }
    }
    if c.state.overlay {
        rootfs::overlay::unmount(&c.dir)?;
    }
    super::remove_dir(&c.dir)
}

/// Freeze (`pause`) or thaw (`resume`) every process of the container through its cgroup.
pub fn set_paused(c: &Container, paused: bool) -> Result<()> {
    status::check(
        c.id(),
        c.status(),
        if paused { Op::Pause } else { Op::Resume },
    )?;
    cgroups::set_frozen(cgroup_of(c)?, paused)
}

/// The directories `commit` archives: with an overlay, the bundle's rootfs and the container's upper layer;
/// without, the rootfs as it is.
pub fn layer_sources(c: &Container) -> Vec<crate::commit::LayerSource> {
    let base = crate::commit::LayerSource {
        dir: c.state.rootfs.clone(),
        overlay_upper: false,
        created_by: format!("brig: rootfs {}", c.state.rootfs.display()),
    };
    if !c.state.overlay {
        return vec![base];
    }
    let upper = crate::commit::LayerSource {
        dir: c.dir.join(rootfs::overlay::UPPER),
        overlay_upper: true,
        created_by: format!("brig commit {}", c.id()),
    };
    vec![base, upper]
}

/// Keeps a running container frozen while it lives (a paused one stays paused; others need nothing).
pub struct HeldStill<'a>(Option<&'a CgroupPlace>);

impl Drop for HeldStill<'_> {
    fn drop(&mut self) {
        if let Some(place) = self.0 {
            if let Err(e) = cgroups::set_frozen(place, false) {
                crate::logs::warn(&format!("cannot resume the container after commit: {e:#}"));
            }
        }
    }
}

pub fn hold_still(c: &Container) -> Result<HeldStill<'_>> {
    if c.status() != Status::Running {
        return Ok(HeldStill(None));
    }
    let place = cgroup_of(c)?;
    cgroups::set_frozen(place, true)?;
    Ok(HeldStill(Some(place)))
}

/// Host pids of every process of the container.
pub fn pids(c: &Container) -> Result<Vec<i32>> {
    if c.status() == Status::Stopped {
        return Ok(Vec::new());
    }
    match &c.state.cgroup {
        Some(place) => cgroups::pids(place),
        None => Ok(vec![c.state.pid]),
    }
}

/// Apply new resources to a live container's cgroup.
pub fn update(c: &Container, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    if c.status() == Status::Stopped {
        anyhow::bail!("container {} is stopped: container not running", c.id());
    }
    cgroups::apply(cgroup_of(c)?, r)
}

fn cgroup_of(c: &Container) -> Result<&CgroupPlace> {
    c.state
        .cgroup
        .as_ref()
        .with_context(|| format!("container {} has no cgroup", c.id()))
}

pub struct ExecOptions<'a> {
    pub console_socket: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: u32,
    pub detach: bool,
}

/// Wait for a foreground process: relaying its terminal when brig holds the pty, else just forwarding signals.
pub fn wait_foreground(
    blocked: &process::foreground::Blocked,
    pid: i32,
    relay: Option<std::os::fd::OwnedFd>,
) -> Result<i32> {
    match relay {
        Some(sock) => process::foreground::relay_and_wait(blocked, pid, &sock),
        None => process::foreground::wait_forwarding(blocked, pid),
    }
}

/// Run `process` in the container. Detached: returns 0 once it runs (its pid in the pid file). Otherwise
/// waits, forwarding signals, and returns its exit code.
pub fn exec(c: Container, process: &oci_spec::runtime::Process, opts: &ExecOptions) -> Result<i32> {
    let status = c.status();
    status::check(c.id(), status, Op::Exec)?;
    let blocked = (!opts.detach).then(process::foreground::block_signals);
    let spec = recorded_spec(&c.dir)?;
    let cfg = process::exec::ExecConfig {
        init_pid: c.state.pid,
        process,
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        state: serde_json::to_value(c.state.oci(status)).unwrap_or_default(),
        console_socket: opts.console_socket,
        preserve_fds: opts.preserve_fds,
        child_of_caller: opts.detach,
        relay_terminal: !opts.detach && opts.console_socket.is_none(),
        cgroup: c.state.cgroup.as_ref(),
    };
    let spawned = process::exec::spawn_exec(&cfg)?;
    let pid = spawned.pid;
    if let Some(p) = opts.pid_file {
        write_pid_file(p, pid)?;
    }
    // The lock is not held while a foreground process runs: other verbs keep working on the container.
    drop(c);
    match blocked {
        None => Ok(0),
        Some(b) => wait_foreground(&b, pid, spawned.relay),
    }
}
