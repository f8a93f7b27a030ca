//! Load a bundle's `config.json` and refuse what brig cannot honour, with errors that name the file and field.

pub mod edits;

use crate::cli::SpecEdits;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A loaded, validated bundle: the spec (with the command line's edits) plus the absolute paths it was read from.
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// `-v` volumes (already in the spec as bind mounts); their host directories are made at create.
    pub volumes: Vec<edits::Volume>,
    /// Whether the container gets a private overlay layer over `rootfs`.
    pub overlay: bool,
}

/// Read `<bundle>/config.json`, apply the command line's edits, and check the result.
pub fn load(bundle: &Path, edits: &SpecEdits) -> Result<Bundle> {
    let dir = std::fs::canonicalize(bundle)
        .with_context(|| format!("bundle {}: cannot open", bundle.display()))?;
    if !dir.is_dir() {
        bail!("bundle {}: not a directory", dir.display());
    }
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("{}: cannot read", config_path.display()))?;
    let mut spec = parse(&text).with_context(|| config_path.display().to_string())?;
    let root = spec
        .root()
        .as_ref()
        .filter(|r| !r.path().as_os_str().is_empty())
        .context("config.json: root.path is missing")?;
    let rootfs_given = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs_given).with_context(|| {
        format!(
            "root.path {}: rootfs does not exist",
            rootfs_given.display()
        )
    })?;
    if !rootfs.is_dir() {
        bail!("root.path {}: rootfs is not a directory", rootfs.display());
    }
    let volumes = edits::apply(&mut spec, &rootfs, edits)?;
    validate(&spec)?;
    let overlay = edits::wants_overlay(&spec, edits)?;
    if overlay {
        // The layer exists to be written; the bundle's rootfs stays untouched underneath it.
        if let Some(root) = spec.root_mut() {
            root.set_readonly(Some(false));
        }
    }
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        volumes,
        overlay,
    })
}

/// Parse config.json text; serde's message carries the line and column of the problem.
pub fn parse(text: &str) -> Result<Spec> {
    let spec: Spec =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("invalid JSON: {e}"))?;
    Ok(spec)
}

/// Checks that need no filesystem: everything here is a property of config.json alone.
pub fn validate(spec: &Spec) -> Result<()> {
    check_version(spec.version())?;
    let process = spec
        .process()
        .as_ref()
        .context("config.json: process is missing")?;
    match process.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => bail!("config.json: process.args must name a program"),
    }
    if !process.cwd().is_absolute() {
        bail!(
            "config.json: process.cwd {:?} must be an absolute path",
            process.cwd()
        );
    }
    if process.user().username().is_some() {
        bail!("config.json: process.user.username is only for Windows");
    }
    if process
        .selinux_label()
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        crate::security::selinux_check()?;
    }
    let linux = spec.linux().as_ref();
    let namespaces = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut seen = HashSet::new();
    for ns in &namespaces {
        if !seen.insert(ns.typ()) {
            bail!(
                "config.json: linux.namespaces: {} is listed twice",
                ns_name(ns.typ())
            );
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                bail!(
                    "config.json: linux.namespaces: {} path {:?} must be absolute",
                    ns_name(ns.typ()),
                    p
                );
            }
        }
    }
    let has = |t: LinuxNamespaceType| seen.contains(&t);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("config.json: hostname needs a private uts namespace (linux.namespaces has no uts)");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        bail!(
            "config.json: domainname needs a private uts namespace (linux.namespaces has no uts)"
        );
    }
    if let Some(linux) = linux {
        let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        let user_ns = namespaces
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::User);
        match user_ns {
            None if maps => {
                bail!("config.json: linux.uidMappings/gidMappings need a user namespace")
            }
            Some(n) if n.path().is_none() && !maps => {
                bail!("config.json: a new user namespace needs linux.uidMappings and linux.gidMappings")
            }
            _ => {}
        }
        if let (Some(u), true) = (user_ns, has(LinuxNamespaceType::Pid)) {
            let pid_ns = namespaces
                .iter()
                .find(|n| n.typ() == LinuxNamespaceType::Pid);
            if u.path().is_some() && pid_ns.is_some_and(|p| p.path().is_none()) {
                bail!(
                    "config.json: joining a user namespace by path together with a new pid namespace is not supported"
                );
            }
        }
        if let Some(sysctl) = linux.sysctl() {
            for key in sysctl.keys() {
                check_sysctl(key, &has)?;
            }
        }
        if linux.intel_rdt().is_some() {
            bail!("config.json: linux.intelRdt is not supported by brig");
        }
        if linux.personality().is_some() {
            bail!("config.json: linux.personality is not supported by brig");
        }
        if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
            bail!("config.json: linux.timeOffsets is not supported by brig");
        }
        if let Some(p) = linux.rootfs_propagation() {
            if !p.is_empty() && crate::rootfs::propagation_flag(p).is_none() {
                bail!("config.json: linux.rootfsPropagation {p:?} is not a propagation mode");
            }
        }
    }
    for m in spec.mounts().iter().flatten() {
        if m.destination().as_os_str().is_empty() {
            bail!("config.json: a mount has an empty destination");
        }
    }
    Ok(())
}

fn check_version(v: &str) -> Result<()> {
    let major = v.split('.').next().unwrap_or("");
    if major != "1" {
        bail!("config.json: ociVersion {v:?} is not supported (brig implements runtime-spec 1.x)");
    }
    Ok(())
}

/// Only namespaced sysctls may be set, and only when the container has the namespace they belong to (as runc).
fn check_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        if !has(LinuxNamespaceType::Ipc) {
            bail!("config.json: linux.sysctl {key:?} needs a private ipc namespace");
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !has(LinuxNamespaceType::Network) {
            bail!("config.json: linux.sysctl {key:?} needs a private network namespace");
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if !has(LinuxNamespaceType::Uts) {
            bail!("config.json: linux.sysctl {key:?} needs a private uts namespace");
        }
        return Ok(());
    }
    bail!("config.json: linux.sysctl {key:?} is not namespaced and cannot be set for a container")
}

pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// The default config.json `brig spec` writes: the same container `runc spec` describes.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.json");

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::from_str(DEFAULT_CONFIG).unwrap()
    }

    fn check(v: &serde_json::Value) -> Result<()> {
        validate(&parse(&v.to_string())?)
    }

    #[test]
    fn default_config_is_valid() {
        check(&base()).unwrap();
    }

    #[test]
    fn malformed_json_names_line() {
        let err = parse("{\n  \"ociVersion\": \"1.0.0\",\n  oops\n}").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn wrong_major_version_refused() {
        let mut v = base();
        v["ociVersion"] = "2.0.0".into();
        let e = check(&v).unwrap_err().to_string();
        assert!(e.contains("ociVersion \"2.0.0\""), "{e}");
    }

    #[test]
    fn missing_process_refused() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("process");
        assert!(check(&v)
            .unwrap_err()
            .to_string()
            .contains("process is missing"));
    }

    #[test]
    fn hostname_without_uts_refused() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        assert!(check(&v).unwrap_err().to_string().contains("uts"));
    }

    #[test]
    fn duplicate_namespace_refused() {
        let mut v = base();
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "mount"}, {"type": "uts"}]);
        assert!(check(&v).unwrap_err().to_string().contains("listed twice"));
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let mut v = base();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        assert!(check(&v).unwrap_err().to_string().contains("uidMappings"));
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        check(&v).unwrap();
    }

    #[test]
    fn sysctl_rules() {
        let mut v = base();
        v["linux"]["sysctl"] =
            serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"});
        check(&v).unwrap();
        v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"});
        assert!(check(&v)
            .unwrap_err()
            .to_string()
            .contains("not namespaced"));
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "uts"}]);
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        assert!(check(&v)
            .unwrap_err()
            .to_string()
            .contains("network namespace"));
    }

    #[test]
    fn relative_cwd_refused() {
        let mut v = base();
        v["process"]["cwd"] = "tmp".into();
        assert!(check(&v).unwrap_err().to_string().contains("process.cwd"));
    }

    #[test]
    fn empty_args_refused() {
        let mut v = base();
        v["process"]["args"] = serde_json::json!([]);
        assert!(check(&v).unwrap_err().to_string().contains("process.args"));
    }
}
