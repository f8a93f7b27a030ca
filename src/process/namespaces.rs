//! Which namespaces the init gets and how: created by the clone itself, joined by the parent around the clone
//! (setns, then back), or unshared by the init after the parent has placed it (cgroup: its root must be the
//! container's cgroup; and every new one when a user namespace is joined by path, so they belong to it).

use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::fs::File;
use std::path::PathBuf;

pub struct NamespacePlan {
    /// Namespaces created by clone(2).
    pub clone_flags: CloneFlags,
    /// Namespaces the init unshares after the parent says go.
    pub unshare_in_init: CloneFlags,
    /// Namespaces the parent enters before the clone (the init inherits them) and leaves after.
    pub join_in_parent: Vec<(CloneFlags, PathBuf)>,
    /// A user namespace joined by path: entered by the init first.
    pub join_user_in_init: Option<PathBuf>,
    /// A new time namespace: the parent unshares it for its children around the clone.
    pub new_time: bool,
    pub new_user: bool,
    pub in_userns: bool,
    pub own_pid: bool,
    pub own_cgroup: bool,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The /proc/self/ns name of a namespace flag.
pub fn proc_name(f: CloneFlags) -> &'static str {
    match f {
        f if f == CloneFlags::CLONE_NEWNS => "mnt",
        f if f == CloneFlags::CLONE_NEWCGROUP => "cgroup",
        f if f == CloneFlags::CLONE_NEWUTS => "uts",
        f if f == CloneFlags::CLONE_NEWIPC => "ipc",
        f if f == CloneFlags::CLONE_NEWUSER => "user",
        f if f == CloneFlags::CLONE_NEWPID => "pid",
        f if f == CloneFlags::CLONE_NEWNET => "net",
        _ => "time",
    }
}

/// A plan that creates and joins nothing (filled in by `exec`).
pub fn plan_empty() -> NamespacePlan {
    NamespacePlan {
        clone_flags: CloneFlags::empty(),
        unshare_in_init: CloneFlags::empty(),
        join_in_parent: Vec::new(),
        join_user_in_init: None,
        new_time: false,
        new_user: false,
        in_userns: false,
        own_pid: false,
        own_cgroup: false,
    }
}

pub fn plan(spec: &Spec) -> NamespacePlan {
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let user = list.iter().find(|n| n.typ() == LinuxNamespaceType::User);
    let mut p = NamespacePlan {
        clone_flags: CloneFlags::empty(),
        unshare_in_init: CloneFlags::empty(),
        join_in_parent: Vec::new(),
        join_user_in_init: user.and_then(|u| u.path().clone()),
        new_time: false,
        new_user: user.is_some_and(|u| u.path().is_none()),
        in_userns: user.is_some(),
        own_pid: list
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none()),
        own_cgroup: list
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Cgroup && n.path().is_none()),
    };
    let user_joined = p.join_user_in_init.is_some();
    for ns in &list {
        let f = flag(ns.typ());
        match (ns.typ(), ns.path()) {
            (LinuxNamespaceType::User, _) => {}
            (_, Some(path)) => p.join_in_parent.push((f, path.clone())),
            (LinuxNamespaceType::Cgroup, None) => p.unshare_in_init |= f,
            (LinuxNamespaceType::Time, None) => p.new_time = true,
            // With a joined user namespace the new ones must be made after entering it (pid is refused by
            // validation in that case: it can only be made by a clone).
            (LinuxNamespaceType::Pid, None) => p.clone_flags |= f,
            (_, None) if user_joined => p.unshare_in_init |= f,
            (_, None) => p.clone_flags |= f,
        }
    }
    if p.new_user {
        p.clone_flags |= CloneFlags::CLONE_NEWUSER;
    }
    p
}

/// The parent's own namespaces, saved so it can return to them after the clone.
pub struct Saved {
    ns: Vec<(CloneFlags, File)>,
    cwd: File,
}

/// Enter the namespaces to be joined (and unshare a new time namespace) for the clone that follows.
pub fn enter_for_clone(p: &NamespacePlan) -> Result<Saved> {
    let mut saved = Saved {
        ns: Vec::new(),
        cwd: File::open(".").context("cannot open the current directory")?,
    };
    let mut targets = Vec::new();
    for (f, path) in &p.join_in_parent {
        let target = File::open(path).with_context(|| {
            format!(
                "{} namespace {}: cannot open",
                proc_name(*f),
                path.display()
            )
        })?;
        targets.push((*f, path, target));
    }
    let time = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    for (f, path, target) in &targets {
        let own = File::open(format!("/proc/self/ns/{}", proc_name(*f)))?;
        saved.ns.push((*f, own));
        nix::sched::setns(target, *f).map_err(|e| {
            let _ = leave(&saved);
            anyhow::anyhow!(
                "{} namespace {}: cannot join: {}",
                proc_name(*f),
                path.display(),
                e.desc().to_lowercase()
            )
        })?;
    }
    if p.new_time {
        saved.ns.push((
            time,
            File::open("/proc/self/ns/time").context("this kernel has no time namespaces")?,
        ));
        nix::sched::unshare(time).context("cannot create a time namespace")?;
    }
    Ok(saved)
}

/// Return to the parent's own namespaces and working directory.
pub fn leave(saved: &Saved) -> Result<()> {
    for (f, own) in saved.ns.iter().rev() {
        nix::sched::setns(own, *f)
            .with_context(|| format!("cannot return to own {} namespace", proc_name(*f)))?;
    }
    nix::unistd::fchdir(&saved.cwd).context("cannot return to the working directory")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ns: serde_json::Value) -> Spec {
        let mut v: serde_json::Value = serde_json::from_str(crate::spec::DEFAULT_CONFIG).unwrap();
        v["linux"]["namespaces"] = ns;
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn plain_namespaces_come_from_clone() {
        let p = plan(&spec(
            serde_json::json!([{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}]),
        ));
        assert_eq!(
            p.clone_flags,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS
        );
        assert_eq!(p.unshare_in_init, CloneFlags::CLONE_NEWCGROUP);
        assert!(p.own_pid && p.own_cgroup && !p.in_userns);
    }

    #[test]
    fn joined_by_path_in_parent() {
        let p = plan(&spec(
            serde_json::json!([{"type": "network", "path": "/proc/1/ns/net"}, {"type": "mount"}]),
        ));
        assert_eq!(
            p.join_in_parent,
            vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/proc/1/ns/net"))]
        );
        assert_eq!(p.clone_flags, CloneFlags::CLONE_NEWNS);
    }

    #[test]
    fn new_user_namespace_owns_the_others() {
        let p = plan(&spec(
            serde_json::json!([{"type": "user"}, {"type": "mount"}, {"type": "pid"}]),
        ));
        assert!(p.clone_flags.contains(
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID
        ));
        assert!(p.new_user && p.in_userns);
    }

    #[test]
    fn joined_user_namespace_unshares_in_init() {
        let p = plan(&spec(
            serde_json::json!([{"type": "user", "path": "/proc/1/ns/user"}, {"type": "mount"}]),
        ));
        assert_eq!(p.clone_flags, CloneFlags::empty());
        assert_eq!(p.unshare_in_init, CloneFlags::CLONE_NEWNS);
        assert_eq!(p.join_user_in_init, Some(PathBuf::from("/proc/1/ns/user")));
    }
}
