//! cgroup v2: one directory; v1-style values from config.json are converted as runc converts them.

use super::write;
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;
use std::time::{Duration, Instant};

/// Enable every available controller on the way from the root down to `dir`'s parent, so `dir` gets them.
pub fn enable_controllers(mountpoint: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mountpoint) else {
        return Ok(());
    };
    let mut at = mountpoint.to_path_buf();
    for part in rel.components() {
        let available = std::fs::read_to_string(at.join("cgroup.controllers")).unwrap_or_default();
        let enabled =
            std::fs::read_to_string(at.join("cgroup.subtree_control")).unwrap_or_default();
        for c in available.split_whitespace() {
            if !enabled.split_whitespace().any(|e| e == c) {
                // A controller the parent cannot delegate is skipped here: a resource that needs it fails
                // later with a message naming the field.
                let _ = std::fs::write(at.join("cgroup.subtree_control"), format!("+{c}"));
            }
        }
        at.push(part);
    }
    Ok(())
}

/// cpu.shares (v1, 2..262144) to cpu.weight (v2, 1..10000): runc's current quadratic fit, which maps the
/// v1 default 1024 to the v2 default 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262144 {
        return 10000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// blkio.weight (10..1000) to io.weight (1..10000), as runc.
pub fn blkio_weight_to_io(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (w.saturating_sub(10)) * 9999 / 990
}

/// memory.swap.max is swap alone, config.json's swap is memory+swap: the difference, as runc.
pub fn swap_max(limit: Option<i64>, swap: i64) -> Result<String> {
    if swap == -1 {
        return Ok("max".into());
    }
    match limit {
        Some(l) if l > 0 => {
            if swap < l {
                bail!("linux.resources.memory.swap ({swap}) must not be below memory.limit ({l})");
            }
            Ok((swap - l).to_string())
        }
        Some(-1) | None => bail!("linux.resources.memory.swap needs memory.limit on cgroup v2"),
        Some(_) => Ok("0".into()),
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(rules) = r.devices() {
        super::devices_bpf::attach(dir, &super::device_rules(rules))?;
    }
    if let Some(m) = r.memory() {
        if let Some(v) = m.reservation() {
            write(dir, "memory.low", &max_or(v), "memory.reservation")?;
        }
        if let Some(v) = m.limit() {
            write(dir, "memory.max", &max_or(v), "memory.limit")?;
        }
        if let Some(swap) = m.swap() {
            write(
                dir,
                "memory.swap.max",
                &swap_max(m.limit(), swap)?,
                "memory.swap",
            )?;
        }
        if m.swappiness().is_some() {
            bail!("linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness");
        }
        if m.disable_oom_killer() == Some(true) {
            bail!(
                "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer"
            );
        }
        #[allow(deprecated)]
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            crate::logs::warn(
                "linux.resources.memory.kernel/kernelTCP are deprecated and ignored (as runc)",
            );
        }
    }
    if let Some(p) = r.pids() {
        write(
            dir,
            "pids.max",
            &if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            },
            "pids.limit",
        )?;
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s > 0) {
            write(
                dir,
                "cpu.weight",
                &shares_to_weight(s).to_string(),
                "cpu.shares",
            )?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = c
                .quota()
                .filter(|q| *q > 0)
                .map(|q| q.to_string())
                .unwrap_or_else(|| "max".into());
            let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
            write(dir, "cpu.max", &format!("{quota} {period}"), "cpu.quota")?;
        }
        if let Some(b) = c.burst() {
            write(dir, "cpu.max.burst", &b.to_string(), "cpu.burst")?;
        }
        if let Some(i) = c.idle() {
            write(dir, "cpu.idle", &i.to_string(), "cpu.idle")?;
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            bail!("linux.resources.cpu.realtimeRuntime/realtimePeriod: not available on cgroup v2");
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            write(dir, "cpuset.cpus", v, "cpu.cpus")?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            write(dir, "cpuset.mems", v, "cpu.mems")?;
        }
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight() {
            write(
                dir,
                "io.weight",
                &format!("default {}", blkio_weight_to_io(w as u64)),
                "blockIO.weight",
            )?;
        }
        if b.leaf_weight().is_some() {
            bail!("linux.resources.blockIO.leafWeight: not available on cgroup v2");
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                let line = format!(
                    "{}:{} {}",
                    wd.major(),
                    wd.minor(),
                    blkio_weight_to_io(w as u64)
                );
                write(dir, "io.weight", &line, "blockIO.weightDevice")?;
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "rbps",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "wbps",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "riops",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "wiops",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ];
        for (list, key, field) in throttles {
            for t in list.iter().flatten() {
                write(
                    dir,
                    "io.max",
                    &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                    field,
                )?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        write(
            dir,
            &format!("hugetlb.{}.max", h.page_size()),
            &h.limit().to_string(),
            "hugepageLimits",
        )?;
    }
    if r.network().is_some() {
        bail!("linux.resources.network: net_cls/net_prio do not exist on cgroup v2");
    }
    for (key, value) in r.unified().iter().flatten() {
        if key.contains('/') || key.starts_with('.') {
            bail!("linux.resources.unified: {key:?} is not a cgroup file name");
        }
        write(dir, key, value, &format!("unified.{key}"))?;
    }
    Ok(())
}

pub fn is_frozen(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
}

pub fn set_frozen(dir: &Path, frozen: bool) -> Result<()> {
    write(
        dir,
        "cgroup.freeze",
        if frozen { "1" } else { "0" },
        "freezer",
    )?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if events.lines().any(|l| l.trim() == want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("cgroup {} did not reach {want}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// cgroup.kill (Linux 5.14+) kills every process in the cgroup at once.
pub fn kill(dir: &Path) -> Result<()> {
    write(dir, "cgroup.kill", "1", "kill")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_conversion() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262144), 10000);
        assert!(shares_to_weight(512) < 100 && shares_to_weight(2048) > 100);
    }

    #[test]
    fn blkio_conversion() {
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(1000), 10000);
        assert_eq!(blkio_weight_to_io(0), 0);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_max(Some(100), 300).unwrap(), "200");
        assert_eq!(swap_max(Some(100), -1).unwrap(), "max");
        assert!(swap_max(Some(100), 50).is_err());
        assert!(swap_max(None, 50).is_err());
    }
}
