//! Cgroups behind one interface: where the container's cgroup is (`CgroupPlace`, recorded in state.json),
//! and what can be done to it (create, join, apply resources, list, freeze, kill, remove). The backend is
//! chosen by what the host mounts: cgroup2 at /sys/fs/cgroup (v2), or v1 hierarchies (with or without a
//! cgroup2 beside them: hybrid hosts are accepted).

pub mod devices_bpf;
pub mod stats;
pub mod v1;
pub mod v2;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::rootfs::options::MountOptions;

const CGROUP2_SUPER_MAGIC: i64 = 0x63677270;

/// Where a container's cgroup lives, recorded so later verbs need no discovery.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CgroupPlace {
    pub v2: bool,
    /// The cgroup path inside each hierarchy, e.g. `/brig/web`.
    pub path: String,
    /// The container's directory in each hierarchy (v2: exactly one).
    pub dirs: Vec<PathBuf>,
    /// The directories brig created, deepest first: removed on delete.
    pub created: Vec<PathBuf>,
}

/// A mounted cgroup hierarchy on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    /// Path of the mount's root inside the hierarchy (mountinfo field 4; "/" on a host).
    pub root: String,
    /// v1 controllers (or `name=systemd`); empty for cgroup2.
    pub controllers: Vec<String>,
    pub v2: bool,
}

pub fn is_v2_host() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type().0 == CGROUP2_SUPER_MAGIC)
}

/// Cgroup hierarchies from /proc/self/mountinfo.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .context("cannot read /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let v2 = match post[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            Vec::new()
        } else {
            post[2]
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains("xattr"))
                .map(String::from)
                .collect()
        };
        out.push(Hierarchy {
            mountpoint: unescape(pre[4]).into(),
            root: unescape(pre[3]),
            controllers,
            v2,
        });
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as three octal digits.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Clean a cgroup path so `..` cannot climb out of the hierarchy (runc's CleanPath): the result is absolute
/// when `p` is, relative otherwise, and never starts with `..`.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// The cgroup path for a container, as runc's fs driver resolves `linux.cgroupsPath`: absolute paths are taken
/// from the hierarchy root, relative ones (and the default, the container id) from the runtime's own cgroup.
pub fn resolve_path(cgroups_path: Option<&Path>, id: &str, own_cgroup: &str) -> String {
    let given = cgroups_path
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty());
    let p = given.unwrap_or_else(|| id.to_string());
    if p.starts_with('/') {
        return clean_path(&p);
    }
    clean_path(&format!(
        "{}/{}",
        own_cgroup.trim_end_matches('/'),
        clean_path(&p)
    ))
}

/// This process's cgroup in hierarchy `h`, from /proc/self/cgroup text (`0::` for v2, the controller list for v1).
fn own_cgroup_in(text: &str, h: &Hierarchy) -> String {
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        let matches = if h.v2 {
            ctrls.is_empty()
        } else {
            let mut a: Vec<&str> = ctrls.split(',').collect();
            let mut b: Vec<&str> = h.controllers.iter().map(|s| s.as_str()).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        if matches {
            return path.to_string();
        }
    }
    "/".to_string()
}

/// The directory of cgroup `path` under hierarchy `h` (whose mount may itself show only a sub-tree).
fn dir_in(h: &Hierarchy, path: &str) -> PathBuf {
    let rel = path
        .strip_prefix(h.root.trim_end_matches('/'))
        .unwrap_or(path);
    h.mountpoint.join(rel.trim_start_matches('/'))
}

/// Create the container's cgroup (every hierarchy) and apply its resources. On error nothing is left behind.
pub fn create(
    cgroups_path: Option<&Path>,
    id: &str,
    resources: Option<&LinuxResources>,
) -> Result<CgroupPlace> {
    let v2 = is_v2_host();
    let all = hierarchies()?;
    // On a hybrid host the v1 hierarchies are the ones with controllers; the cgroup2 beside them is joined too.
    let used: Vec<&Hierarchy> = if v2 {
        all.iter()
            .filter(|h| h.v2 && h.mountpoint == Path::new("/sys/fs/cgroup"))
            .collect()
    } else {
        all.iter()
            .filter(|h| h.mountpoint.parent() == Some(Path::new("/sys/fs/cgroup")))
            .collect()
    };
    if used.is_empty() {
        bail!("no cgroup hierarchy is mounted under /sys/fs/cgroup");
    }
    let mut place = CgroupPlace {
        v2,
        path: String::new(),
        dirs: Vec::new(),
        created: Vec::new(),
    };
    // Read once: the runtime's own cgroup in every hierarchy.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let result = (|| -> Result<()> {
        for h in &used {
            let path = resolve_path(cgroups_path, id, &own_cgroup_in(&own, h));
            place.path.clone_from(&path);
            let dir = dir_in(h, &path);
            mkdir_tracked(&dir, &h.mountpoint, &mut place.created)?;
            if !h.v2 && h.controllers.iter().any(|c| c == "cpuset") {
                v1::init_cpuset(&dir, &h.mountpoint)?;
            }
            if h.v2 && v2 {
                v2::enable_controllers(&h.mountpoint, &dir)?;
            }
            place.dirs.push(dir);
        }
        if let Some(r) = resources {
            apply(&place, r)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = remove(&place);
        return Err(e);
    }
    Ok(place)
}

fn mkdir_tracked(dir: &Path, mountpoint: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = dir.to_path_buf();
    while !p.exists() && p.starts_with(mountpoint) && p != mountpoint {
        missing.push(p.clone());
        if !p.pop() {
            break;
        }
    }
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => created.insert(0, d.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => bail!("cannot create cgroup {}: {e}", d.display()),
        }
    }
    Ok(())
}

/// Apply `linux.resources`.
pub fn apply(place: &CgroupPlace, r: &LinuxResources) -> Result<()> {
    let r = &without_unset(r);
    if place.v2 {
        v2::apply(&place.dirs[0], r)
    } else {
        v1::apply(&place.dirs, r)
    }
}

/// The fields runc treats as "not set" when they are 0 (docker sends `"cpu":{"shares":0}`,
/// `"blockIO":{"weight":0}` on every container, and zeros for "unchanged" in `update`). Others, such as
/// swappiness or cpu.idle, mean what they say at 0.
const ZERO_IS_UNSET: &[(&str, &str)] = &[
    ("memory", "limit"),
    ("memory", "reservation"),
    ("memory", "swap"),
    ("memory", "kernel"),
    ("memory", "kernelTCP"),
    ("cpu", "shares"),
    ("cpu", "quota"),
    ("cpu", "period"),
    ("cpu", "realtimeRuntime"),
    ("cpu", "realtimePeriod"),
    ("blockIO", "weight"),
    ("blockIO", "leafWeight"),
    ("pids", "limit"),
];

pub fn without_unset(r: &LinuxResources) -> LinuxResources {
    let Ok(mut v) = serde_json::to_value(r) else {
        return r.clone();
    };
    for (section, key) in ZERO_IS_UNSET {
        if let Some(obj) = v.get_mut(*section).and_then(|s| s.as_object_mut()) {
            if obj.get(*key).and_then(|x| x.as_i64()) == Some(0) {
                obj.remove(*key);
            }
            if obj.is_empty() {
                v.as_object_mut().map(|m| m.remove(*section));
            }
        }
    }
    serde_json::from_value(v).unwrap_or_else(|_| r.clone())
}

/// One device cgroup rule: `a`, `b` or `c`, with `None` for "any" major/minor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub typ: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    fn allow(typ: char, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
        DeviceRule {
            allow: true,
            typ,
            major,
            minor,
            access: access.to_string(),
        }
    }

    /// The v1 `devices.allow`/`devices.deny` line: `c 1:3 rwm`, `*` for any.
    pub fn line(&self) -> String {
        if self.typ == 'a' {
            return format!("a *:* {}", self.access);
        }
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        format!(
            "{} {}:{} {}",
            self.typ,
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

/// The device rules a container gets, in order: deny everything, the config's rules, then what every
/// container needs (runc's list: mknod of any node, the default /dev nodes, ptys). As with runc, a node in
/// `linux.devices` is only created, not allowed: access needs a rule (docker and podman add one).
pub fn device_rules(rules: &[LinuxDeviceCgroup]) -> Vec<DeviceRule> {
    let mut out = vec![DeviceRule {
        allow: false,
        typ: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    for r in rules {
        let typ = match r.typ() {
            None | Some(LinuxDeviceType::A) => 'a',
            Some(LinuxDeviceType::B) => 'b',
            _ => 'c',
        };
        let access = r
            .access()
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "rwm".into());
        out.push(DeviceRule {
            allow: r.allow(),
            typ,
            major: r.major().filter(|m| *m >= 0),
            minor: r.minor().filter(|m| *m >= 0),
            access,
        });
    }
    out.push(DeviceRule::allow('c', None, None, "m"));
    out.push(DeviceRule::allow('b', None, None, "m"));
    for &(_, major, minor) in crate::rootfs::devices::DEFAULT_DEVICES {
        out.push(DeviceRule::allow(
            'c',
            Some(major as i64),
            Some(minor as i64),
            "rwm",
        ));
    }
    out.push(DeviceRule::allow('c', Some(136), None, "rwm")); // /dev/pts/*
    out.push(DeviceRule::allow('c', Some(5), Some(2), "rwm")); // /dev/ptmx
    out
}

/// Put `pid` into the container's cgroup in every hierarchy.
pub fn join(place: &CgroupPlace, pid: i32) -> Result<()> {
    for dir in &place.dirs {
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .with_context(|| format!("cannot add pid {pid} to {}", procs.display()))?;
    }
    Ok(())
}

/// Host pids of every process in the container's cgroup.
pub fn pids(place: &CgroupPlace) -> Result<Vec<i32>> {
    // Every hierarchy holds each process once; the container's processes are in its cgroup in all of them.
    let dir = place.dirs.first().context("container has no cgroup")?;
    let procs = dir.join("cgroup.procs");
    let text = std::fs::read_to_string(&procs)
        .with_context(|| format!("cannot read {}", procs.display()))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

pub fn is_frozen(place: &CgroupPlace) -> bool {
    if place.v2 {
        v2::is_frozen(&place.dirs[0])
    } else {
        v1::is_frozen(&place.dirs)
    }
}

pub fn set_frozen(place: &CgroupPlace, frozen: bool) -> Result<()> {
    if place.v2 {
        v2::set_frozen(&place.dirs[0], frozen)
    } else {
        v1::set_frozen(&place.dirs, frozen)
    }
}

/// Send `sig` to every process in the cgroup. For SIGKILL the cgroup is frozen first so nothing forks past it.
pub fn signal_all(place: &CgroupPlace, sig: i32) -> Result<()> {
    if sig == libc::SIGKILL && place.v2 && v2::kill(&place.dirs[0]).is_ok() {
        return Ok(());
    }
    let freeze = sig == libc::SIGKILL;
    if freeze {
        let _ = set_frozen(place, true);
    }
    for pid in pids(place)? {
        // SAFETY: kill(2) with a pid read from cgroup.procs; ESRCH (already gone) is fine.
        unsafe { libc::kill(pid, sig) };
    }
    if freeze {
        let _ = set_frozen(place, false);
    }
    Ok(())
}

/// Remove the directories brig created, waiting briefly for exiting processes to leave them.
pub fn remove(place: &CgroupPlace) -> Result<()> {
    for dir in &place.created {
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                // Killed processes leave their cgroup only once they have exited: give them time.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 2000 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => bail!("cannot remove cgroup {}: {e}", dir.display()),
            }
        }
    }
    Ok(())
}

/// Mount `type: cgroup` inside the container at `dest` (before pivot_root). With its own cgroup namespace the
/// kernel shows the container's cgroup as the root; without one, brig binds the container's own directories.
pub fn mount_in_container(dest: &Path, opts: &MountOptions, own_ns: bool) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    let flags = opts.flags
        & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let all = hierarchies()?;
    let cgroup_text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mount_one = |h: &Hierarchy, at: &Path| -> Result<()> {
        if own_ns {
            let (fs, data) = if h.v2 {
                ("cgroup2", String::new())
            } else {
                ("cgroup", h.controllers.join(","))
            };
            mount(Some(fs), at, Some(fs), flags, Some(data.as_str()))
                .with_context(|| format!("cannot mount {fs} on {}", at.display()))
        } else {
            let src = dir_in(h, &own_cgroup_in(&cgroup_text, h));
            mount(
                Some(&src),
                at,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("cannot bind {}", src.display()))?;
            crate::rootfs::remount_bind(at, flags | MsFlags::MS_REC, false)
        }
    };
    if is_v2_host() {
        let h = all
            .iter()
            .find(|h| h.v2 && h.mountpoint == Path::new("/sys/fs/cgroup"))
            .context("no cgroup2 mount")?;
        return mount_one(h, dest);
    }
    // v1: a tmpfs holding one directory per hierarchy, named as on the host, plus the host's symlinks.
    mount(
        Some("tmpfs"),
        dest,
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        Some("mode=755"),
    )
    .context("cannot mount tmpfs for cgroups")?;
    for h in all
        .iter()
        .filter(|h| h.mountpoint.parent() == Some(Path::new("/sys/fs/cgroup")))
    {
        let Some(name) = h.mountpoint.file_name() else {
            continue;
        };
        let at = dest.join(name);
        std::fs::create_dir_all(&at)?;
        mount_one(h, &at)?;
    }
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                let _ = std::os::unix::fs::symlink(target, dest.join(e.file_name()));
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        crate::rootfs::remount_bind(dest, flags, false).or_else(|_| {
            mount(
                None::<&str>,
                dest,
                None::<&str>,
                flags | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .context("cannot make cgroup tmpfs read-only")
        })?;
    }
    Ok(())
}

/// Write `value` to a cgroup file, naming the spec field on failure.
pub(crate) fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::ENOENT) => "this kernel or hierarchy has no such file".to_string(),
            _ => crate::hooks::lower(&e),
        };
        anyhow::anyhow!(
            "linux.resources.{field}: cannot write {value:?} to {}: {why}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 /sub /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /mnt/with\\040space rw - cgroup cgroup rw,pids";

    #[test]
    fn mountinfo_hierarchies() {
        let h = parse_mountinfo(MOUNTINFO);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(h[1].controllers, vec!["name=systemd"]);
        assert!(h[2].v2 && h[2].root == "/sub");
        assert_eq!(h[3].mountpoint, PathBuf::from("/mnt/with space"));
    }

    #[test]
    fn path_rules() {
        assert_eq!(
            resolve_path(Some(Path::new("/docker/abc")), "abc", "/user"),
            "/docker/abc"
        );
        assert_eq!(
            resolve_path(Some(Path::new("/../../etc")), "x", "/"),
            "/etc"
        );
        assert_eq!(
            resolve_path(Some(Path::new("a/b")), "x", "/user.slice"),
            "/user.slice/a/b"
        );
        assert_eq!(resolve_path(Some(Path::new("../../x")), "x", "/p"), "/p/x");
        assert_eq!(resolve_path(None, "web", "/"), "/web");
        assert_eq!(resolve_path(Some(Path::new("")), "web", "/p/"), "/p/web");
    }

    #[test]
    fn own_cgroup_lines() {
        let text = "4:memory:/m/x\n2:cpu,cpuacct:/c\n0::/u\n";
        let mem = Hierarchy {
            mountpoint: "/m".into(),
            root: "/".into(),
            controllers: vec!["memory".into()],
            v2: false,
        };
        let cpu = Hierarchy {
            mountpoint: "/c".into(),
            root: "/".into(),
            controllers: vec!["cpuacct".into(), "cpu".into()],
            v2: false,
        };
        let uni = Hierarchy {
            mountpoint: "/u".into(),
            root: "/".into(),
            controllers: vec![],
            v2: true,
        };
        assert_eq!(own_cgroup_in(text, &mem), "/m/x");
        assert_eq!(own_cgroup_in(text, &cpu), "/c");
        assert_eq!(own_cgroup_in(text, &uni), "/u");
    }

    #[test]
    fn docker_zeros_are_unset() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 0, "swap": 0, "kernel": 0, "swappiness": 0, "disableOOMKiller": false},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "idle": 0},
            "blockIO": {"weight": 0},
            "pids": {"limit": 0}
        }))
        .unwrap();
        let v = serde_json::to_value(without_unset(&r)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "memory": {"limit": 67108864, "swappiness": 0, "disableOOMKiller": false},
                "cpu": {"idle": 0}
            })
        );
    }

    #[test]
    fn device_rules_order_and_lines() {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "access": "r"}
        ]))
        .unwrap();
        let out = device_rules(&rules);
        let lines: Vec<String> = out
            .iter()
            .map(|r| format!("{} {}", r.allow, r.line()))
            .collect();
        assert_eq!(lines[0], "false a *:* rwm");
        assert_eq!(lines[1], "false a *:* rwm");
        assert_eq!(lines[2], "true b 8:* r");
        assert!(lines.contains(&"true c 1:3 rwm".to_string()));
        assert!(lines.contains(&"true c 136:* rwm".to_string()));
        assert_eq!(lines.last().unwrap(), "true c 5:2 rwm");
    }

    #[test]
    fn dir_respects_mount_root() {
        let h = Hierarchy {
            mountpoint: "/sys/fs/cgroup".into(),
            root: "/outer".into(),
            controllers: vec![],
            v2: true,
        };
        assert_eq!(dir_in(&h, "/outer/c1"), PathBuf::from("/sys/fs/cgroup/c1"));
        let h = Hierarchy {
            root: "/".into(),
            ..h
        };
        assert_eq!(dir_in(&h, "/c1"), PathBuf::from("/sys/fs/cgroup/c1"));
    }
}
