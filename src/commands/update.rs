//! `brig update`: new cgroup limits for a running container, from a LinuxResources JSON file (podman:
//! `--resources=FILE`), from stdin (docker: `--resources -`) and/or from flags. Zeros mean "unchanged" the
//! way runc reads them (`cgroups::without_unset`).

use crate::cli::{Cli, UpdateArgs};
use crate::container::{lifecycle, Container};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;

pub fn run(cli: &Cli, a: &UpdateArgs) -> Result<i32> {
    let mut v: Value = match &a.resources {
        None => json!({}),
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("--resources -: cannot read stdin")?;
            } else {
                text = std::fs::read_to_string(p)
                    .with_context(|| format!("--resources {}: cannot read", p.display()))?;
            }
            serde_json::from_str(&text)
                .with_context(|| format!("--resources {}: invalid JSON", p.display()))?
        }
    };
    apply_flags(&mut v, a)?;
    let r: LinuxResources =
        serde_json::from_value(v).context("--resources: not a LinuxResources object")?;
    let c = Container::load(&cli.root, &a.id)?;
    lifecycle::update(&c, &r)?;
    Ok(0)
}

fn apply_flags(v: &mut Value, a: &UpdateArgs) -> Result<()> {
    let mut set = |section: &str, key: &str, val: Value| {
        if !v[section].is_object() {
            v[section] = json!({});
        }
        v[section][key] = val;
    };
    if let Some(m) = &a.memory {
        set("memory", "limit", bytes(m, "--memory")?.into());
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", bytes(m, "--memory-swap")?.into());
    }
    if let Some(m) = &a.memory_reservation {
        set(
            "memory",
            "reservation",
            bytes(m, "--memory-reservation")?.into(),
        );
    }
    if let Some(x) = a.cpu_share {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu", "cpus", x.as_str().into());
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu", "mems", x.as_str().into());
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", x.into());
    }
    if let Some(x) = a.blkio_weight {
        set("blockIO", "weight", x.into());
    }
    Ok(())
}

/// `64m`, `1g`, `512k`, `1024`, `-1` (binary units, as runc).
pub fn bytes(s: &str, flag: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    match num.parse::<i64>() {
        Ok(n) if n >= 0 => n
            .checked_mul(mult)
            .with_context(|| format!("{flag} {s}: too large")),
        _ => bail!("{flag} {s:?}: not a size (use e.g. 67108864, 64m, 1g or -1)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("64m", "f").unwrap(), 64 << 20);
        assert_eq!(bytes("1G", "f").unwrap(), 1 << 30);
        assert_eq!(bytes("512kb", "f").unwrap(), 512 << 10);
        assert_eq!(bytes("1000", "f").unwrap(), 1000);
        assert_eq!(bytes("-1", "f").unwrap(), -1);
        assert!(bytes("lots", "f").is_err());
        assert!(bytes("-5", "f").is_err());
    }
}
