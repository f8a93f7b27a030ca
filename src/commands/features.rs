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
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
            },
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
        assert_eq!(d["linux"]["seccomp"]["enabled"], true);
        let actions = d["linux"]["seccomp"]["actions"].as_array().unwrap();
        assert!(
            actions.iter().any(|a| a == "SCMP_ACT_NOTIFY"),
            "listenerPath is supported"
        );
        assert_eq!(d["linux"]["cgroup"]["systemd"], false);
    }
}
