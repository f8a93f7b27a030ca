//! `brig features`: the runtime-spec features document (runc's shape), listing only what this build does.

use anyhow::Result;

pub fn run() -> Result<i32> {
    println!("{}", serde_json::to_string_pretty(&document())?);
    Ok(0)
}

pub fn document() -> serde_json::Value {
    let mut caps: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    caps.sort();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::rootfs::options::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"org.brig.version": env!("CARGO_PKG_VERSION")}
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_true_to_the_build() {
        let d = super::document();
        assert_eq!(d["hooks"].as_array().unwrap().len(), 6);
        assert!(d["mountOptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "rro"));
        assert!(d["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
        assert_eq!(
            d["linux"]["seccomp"]["enabled"], false,
            "seccomp is not implemented yet"
        );
        assert_eq!(d["linux"]["cgroup"]["systemd"], false);
    }
}
