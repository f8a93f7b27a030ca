//! The five capability sets of `process.capabilities`, through the `caps` crate.

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

#[derive(Default, Debug, Clone)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

/// Convert the spec's sets; a missing `capabilities` means no capabilities at all (as runc).
pub fn from_spec(c: Option<&LinuxCapabilities>) -> Result<CapSets> {
    let Some(c) = c else {
        return Ok(CapSets::default());
    };
    let conv = |set: &Option<Capabilities>, name: &str| -> Result<CapsHashSet> {
        set.iter()
            .flatten()
            .map(|cap| {
                let n = format!("CAP_{cap}");
                Capability::from_str(&n)
                    .with_context(|| format!("process.capabilities.{name}: unknown capability {n}"))
            })
            .collect()
    };
    Ok(CapSets {
        bounding: conv(c.bounding(), "bounding")?,
        effective: conv(c.effective(), "effective")?,
        permitted: conv(c.permitted(), "permitted")?,
        inheritable: conv(c.inheritable(), "inheritable")?,
        ambient: conv(c.ambient(), "ambient")?,
    })
}

/// Drop from the bounding set what the container may not have (needs CAP_SETPCAP: before changing user).
pub fn drop_bounding(sets: &CapSets) -> Result<()> {
    for cap in caps::all() {
        if !sets.bounding.contains(&cap) {
            // A capability newer than this kernel is simply not there to drop.
            if let Err(e) = caps::drop(None, CapSet::Bounding, cap) {
                if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                    return Err(anyhow::anyhow!(
                        "cannot drop {cap} from the bounding set: {e}"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Set inheritable, effective, permitted and ambient (after the user change, with keep-caps on).
pub fn apply(sets: &CapSets) -> Result<()> {
    // capset(2) needs effective within permitted at every step: narrow effective before permitted.
    caps::set(None, CapSet::Inheritable, &sets.inheritable)
        .context("cannot set inheritable capabilities")?;
    caps::set(None, CapSet::Effective, &sets.effective)
        .context("cannot set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &sets.permitted)
        .context("cannot set permitted capabilities (each effective one must also be permitted)")?;
    caps::clear(None, CapSet::Ambient).ok();
    // An ambient capability needs to be permitted and inheritable; runc's own default config lists ambient
    // ones without inheritable, and runc only warns. So does brig (in --log: stderr is the container's).
    for cap in &sets.ambient {
        if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
            crate::logs::warn_to_log(&format!("cannot raise ambient capability {cap}: {e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_names_convert() {
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"]
        }))
        .unwrap();
        let s = from_spec(Some(&c)).unwrap();
        assert!(s.bounding.contains(&Capability::CAP_KILL));
        assert!(s.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert_eq!(s.effective.len(), 1);
        assert!(s.ambient.is_empty());
        assert!(from_spec(None).unwrap().bounding.is_empty());
    }
}
