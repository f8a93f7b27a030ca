//! cgroup v1: one directory per hierarchy; each resource goes to the hierarchy that has its controller.

use super::write;
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The container's directory in the hierarchy whose controller owns `probe_file`.
fn dir_with<'a>(dirs: &'a [PathBuf], probe_file: &str) -> Option<&'a PathBuf> {
    dirs.iter().find(|d| d.join(probe_file).exists())
}

fn need<'a>(dirs: &'a [PathBuf], probe_file: &str, field: &str) -> Result<&'a PathBuf> {
    match dir_with(dirs, probe_file) {
        Some(d) => Ok(d),
        None => {
            bail!("linux.resources.{field}: this host has no cgroup v1 hierarchy with {probe_file}")
        }
    }
}

/// A new cpuset cgroup starts with no cpus and no memory nodes; copy them down from the parent.
pub fn init_cpuset(dir: &Path, mountpoint: &Path) -> Result<()> {
    let mut chain = Vec::new();
    let mut p = dir.to_path_buf();
    while p != mountpoint {
        chain.push(p.clone());
        if !p.pop() {
            break;
        }
    }
    for d in chain.iter().rev() {
        let Some(parent) = d.parent() else { continue };
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(d.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(f)).unwrap_or_default();
                write(d, f, theirs.trim(), "cpu")?;
            }
        }
    }
    Ok(())
}

pub fn apply(dirs: &[PathBuf], r: &LinuxResources) -> Result<()> {
    if let Some(rules) = r.devices() {
        let d = need(dirs, "devices.allow", "devices")?;
        write(d, "devices.deny", "a", "devices")?;
        for rule in super::device_rules(rules) {
            let file = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(d, file, &rule.line(), "devices")?;
        }
    }
    if let Some(m) = r.memory() {
        let d = need(dirs, "memory.limit_in_bytes", "memory")?;
        if let Some(v) = m.reservation() {
            write(
                d,
                "memory.soft_limit_in_bytes",
                &v.to_string(),
                "memory.reservation",
            )?;
        }
        match (m.limit(), m.swap()) {
            (Some(limit), Some(swap)) => {
                // memsw must stay >= limit at every step: order the two writes accordingly.
                let first = write(
                    d,
                    "memory.limit_in_bytes",
                    &limit.to_string(),
                    "memory.limit",
                );
                write(
                    d,
                    "memory.memsw.limit_in_bytes",
                    &swap.to_string(),
                    "memory.swap",
                )?;
                if first.is_err() {
                    write(
                        d,
                        "memory.limit_in_bytes",
                        &limit.to_string(),
                        "memory.limit",
                    )?;
                }
            }
            (Some(limit), None) => write(
                d,
                "memory.limit_in_bytes",
                &limit.to_string(),
                "memory.limit",
            )?,
            (None, Some(swap)) => write(
                d,
                "memory.memsw.limit_in_bytes",
                &swap.to_string(),
                "memory.swap",
            )?,
            (None, None) => {}
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                bail!("linux.resources.memory.swappiness: {v} is out of range 0-100");
            }
            write(d, "memory.swappiness", &v.to_string(), "memory.swappiness")?;
        }
        if m.disable_oom_killer() == Some(true) {
            write(d, "memory.oom_control", "1", "memory.disableOOMKiller")?;
        }
        if let Some(true) = m.use_hierarchy() {
            write(d, "memory.use_hierarchy", "1", "memory.useHierarchy")?;
        }
        #[allow(deprecated)]
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            crate::logs::warn(
                "linux.resources.memory.kernel/kernelTCP are deprecated and ignored (as runc)",
            );
        }
    }
    if let Some(p) = r.pids() {
        let d = need(dirs, "pids.max", "pids")?;
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        write(d, "pids.max", &v, "pids.limit")?;
    }
    if let Some(c) = r.cpu() {
        let needs_cpu = c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.idle().is_some()
            || c.burst().is_some();
        if needs_cpu {
            let d = need(dirs, "cpu.shares", "cpu")?;
            if let Some(v) = c.shares() {
                write(d, "cpu.shares", &v.to_string(), "cpu.shares")?;
            }
            if let Some(v) = c.period() {
                write(d, "cpu.cfs_period_us", &v.to_string(), "cpu.period")?;
            }
            if let Some(v) = c.quota() {
                write(d, "cpu.cfs_quota_us", &v.to_string(), "cpu.quota")?;
            }
            if let Some(v) = c.burst() {
                write(d, "cpu.cfs_burst_us", &v.to_string(), "cpu.burst")?;
            }
            if let Some(v) = c.realtime_period() {
                write(d, "cpu.rt_period_us", &v.to_string(), "cpu.realtimePeriod")?;
            }
            if let Some(v) = c.realtime_runtime() {
                write(
                    d,
                    "cpu.rt_runtime_us",
                    &v.to_string(),
                    "cpu.realtimeRuntime",
                )?;
            }
            if let Some(v) = c.idle() {
                write(d, "cpu.idle", &v.to_string(), "cpu.idle")?;
            }
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            write(
                need(dirs, "cpuset.cpus", "cpu.cpus")?,
                "cpuset.cpus",
                v,
                "cpu.cpus",
            )?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            write(
                need(dirs, "cpuset.mems", "cpu.mems")?,
                "cpuset.mems",
                v,
                "cpu.mems",
            )?;
        }
    }
    if let Some(b) = r.block_io() {
        let probe = "blkio.throttle.read_bps_device";
        if let Some(v) = b.weight() {
            write(
                need(dirs, "blkio.weight", "blockIO.weight")?,
                "blkio.weight",
                &v.to_string(),
                "blockIO.weight",
            )?;
        }
        if let Some(v) = b.leaf_weight() {
            let d = need(dirs, "blkio.leaf_weight", "blockIO.leafWeight")?;
            write(d, "blkio.leaf_weight", &v.to_string(), "blockIO.leafWeight")?;
        }
        for wd in b.weight_device().iter().flatten() {
            let d = need(dirs, "blkio.weight_device", "blockIO.weightDevice")?;
            if let Some(w) = wd.weight() {
                let line = format!("{}:{} {w}", wd.major(), wd.minor());
                write(d, "blkio.weight_device", &line, "blockIO.weightDevice")?;
            }
            if let Some(w) = wd.leaf_weight() {
                let line = format!("{}:{} {w}", wd.major(), wd.minor());
                write(d, "blkio.leaf_weight_device", &line, "blockIO.weightDevice")?;
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ];
        for (list, file, field) in throttles {
            for t in list.iter().flatten() {
                let line = format!("{}:{} {}", t.major(), t.minor(), t.rate());
                write(need(dirs, probe, field)?, file, &line, field)?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
        let d = need(dirs, &file, "hugepageLimits")?;
        write(d, &file, &h.limit().to_string(), "hugepageLimits")?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            write(
                need(dirs, "net_cls.classid", "network.classID")?,
                "net_cls.classid",
                &id.to_string(),
                "network.classID",
            )?;
        }
        for p in n.priorities().iter().flatten() {
            let line = format!("{} {}", p.name(), p.priority());
            write(
                need(dirs, "net_prio.ifpriomap", "network.priorities")?,
                "net_prio.ifpriomap",
                &line,
                "network.priorities",
            )?;
        }
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        bail!("linux.resources.unified: needs cgroup v2, and this host uses cgroup v1");
    }
    if r.rdma().as_ref().is_some_and(|u| !u.is_empty()) {
        bail!("linux.resources.rdma: this host has no rdma cgroup controller");
    }
    Ok(())
}

pub fn is_frozen(dirs: &[PathBuf]) -> bool {
    dir_with(dirs, "freezer.state")
        .and_then(|d| std::fs::read_to_string(d.join("freezer.state")).ok())
        .is_some_and(|s| s.trim() != "THAWED")
}

pub fn set_frozen(dirs: &[PathBuf], frozen: bool) -> Result<()> {
    let Some(d) = dir_with(dirs, "freezer.state") else {
        bail!("this host has no freezer cgroup")
    };
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        write(d, "freezer.state", want, "freezer")?;
        let now = std::fs::read_to_string(d.join("freezer.state")).unwrap_or_default();
        if now.trim() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "cgroup {} did not become {want} (still {})",
                d.display(),
                now.trim()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
