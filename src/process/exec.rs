//! `exec`: a new process in a running container. It joins every namespace of the init that differs from
//! brig's own (pid and time by brig around the clone, the others by the child, user first), is placed in the
//! container's cgroup before it runs anything, and becomes its process the same way the init does.

use super::channel::{self, Channel};
use super::init::{become_process, close_fds_on_exec, close_other_fds, reset_signals};
use super::namespaces;
use super::{console, prepare_process, ProcessPrep};
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub struct ExecConfig<'a> {
    pub init_pid: i32,
    pub process: &'a Process,
    /// The container's seccomp profile, which exec'd processes get too (as runc).
    pub seccomp: Option<&'a oci_spec::runtime::LinuxSeccomp>,
    pub console_socket: Option<&'a Path>,
    pub preserve_fds: u32,
    /// --detach: the process becomes a child of brig's caller (conmon and the shim wait for it).
    pub child_of_caller: bool,
    /// The container's OCI state, for a seccomp listener.
    pub state: serde_json::Value,
    /// With a terminal and no console socket: brig relays the terminal itself.
    pub relay_terminal: bool,
    /// The container's cgroup, which the process joins before it runs anything.
    pub cgroup: Option<&'a crate::cgroups::CgroupPlace>,
}

/// In the order the child enters them: user first, so it holds capabilities over the others.
const CHILD_JOINS: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("net", CloneFlags::CLONE_NEWNET),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn differs(pid: i32, name: &str) -> bool {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok();
    let ours = std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
    theirs.is_some() && theirs != ours
}

/// Start the process; returns its host pid once it has reached execve's doorstep.
pub fn spawn_exec(cfg: &ExecConfig) -> Result<super::Spawned> {
    let mut prep = prepare_process(
        cfg.process,
        cfg.seccomp,
        cfg.console_socket,
        cfg.relay_terminal,
    )?;
    let pid = cfg.init_pid;
    let mut joins: Vec<(CloneFlags, File)> = Vec::new();
    for (name, flag) in CHILD_JOINS {
        if differs(pid, name) {
            let f = File::open(format!("/proc/{pid}/ns/{name}"))
                .with_context(|| format!("cannot open the container's {name} namespace"))?;
            joins.push((*flag, f));
        }
    }
    // pid and time namespaces apply to children only: brig enters them for the clone.
    let mut parent_plan = namespaces::plan_empty();
    for (name, flag) in [
        ("pid", CloneFlags::CLONE_NEWPID),
        ("time", CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)),
    ] {
        if differs(pid, name) {
            parent_plan
                .join_in_parent
                .push((flag, PathBuf::from(format!("/proc/{pid}/ns/{name}"))));
        }
    }
    let (parent_end, child_end) = channel::pair()?;
    let saved = namespaces::enter_for_clone(&parent_plan)?;
    let flags = if cfg.child_of_caller {
        libc::CLONE_PARENT as libc::c_ulong
    } else {
        0
    };
    let cloned = super::clone_process(flags);
    if let Ok(0) = cloned {
        drop(parent_end);
        super::init::report_and_exit(&child_end, child_main(cfg, &prep, &joins, &child_end));
    }
    let left = namespaces::leave(&saved);
    drop(child_end);
    let child =
        cloned.map_err(|e| anyhow::anyhow!("cannot create the exec process (clone): {e}"))?;
    let result = left.and_then(|_| {
        if let Some(place) = cfg.cgroup {
            crate::cgroups::join(place, child)?;
        }
        parent_end.send(channel::GO, &[])?;
        let listener = prep.seccomp_listener.as_ref();
        super::await_ready(&parent_end, listener, child, &cfg.state, || {
            bail!("sync socket: an exec'd process asked for runtime hooks")
        })
    });
    if let Err(e) = result {
        super::abandon(child, cfg.child_of_caller);
        return Err(e);
    }
    Ok(super::Spawned {
        pid: child,
        relay: prep.relay.take(),
    })
}

fn child_main(
    cfg: &ExecConfig,
    prep: &ProcessPrep,
    joins: &[(CloneFlags, File)],
    chan: &Channel,
) -> Result<Infallible> {
    reset_signals();
    let console_fd = prep.console.as_ref().map_or(-1, |c| c.as_raw_fd());
    let mut own = vec![chan.raw(), console_fd, crate::logs::raw_fd()];
    own.extend(joins.iter().map(|(_, f)| f.as_raw_fd()));
    close_other_fds(3 + cfg.preserve_fds as i32, &own);
    chan.expect(channel::GO)?;
    for (flag, f) in joins {
        nix::sched::setns(f, *flag).with_context(|| {
            format!(
                "cannot join the container's {} namespace",
                namespaces::proc_name(*flag)
            )
        })?;
    }
    if joins.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER) {
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .context("cannot become gid 0 in the user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .context("cannot become uid 0 in the user namespace")?;
    }
    if let Some(sock) = &prep.console {
        nix::unistd::setsid().context("setsid failed")?;
        console::setup_pty(sock.as_raw_fd(), prep.console_size)?;
    }
    let (exe, envp) = become_process(cfg.process, prep, chan)?;
    close_fds_on_exec(cfg.preserve_fds, &own);
    chan.send(channel::READY, &[])?;
    let err = nix::unistd::execve(&exe, &prep.args, &envp).unwrap_err();
    bail!(
        "exec {}: {}",
        exe.to_string_lossy(),
        err.desc().to_lowercase()
    )
}
