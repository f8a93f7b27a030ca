//! The same bundles under brig and under runc (Debian's, the oracle): the process inside must see the same.
mod common;
use common::*;
use serde_json::json;

const PROBE: &str = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status; id; hostname; \
    ulimit -n; ulimit -Hn; pwd; umask; env | grep -v '^HOSTNAME=' | sort; cat /proc/self/oom_score_adj; \
    ls /dev | sort | tr '\\n' ' '; echo; \
    awk '{print $5}' /proc/self/mountinfo | grep -v '^/sys/fs/cgroup/' | sort | tr '\\n' ' '; echo; \
    touch /probe-write 2>/dev/null && echo root-writable || echo root-readonly; \
    cat /proc/sys/net/ipv4/ip_forward; echo pid=$$";

fn runc_available() -> bool {
    std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn compare(name: &str, edit: impl Fn(&mut serde_json::Value)) {
    assert!(
        runc_available(),
        "runc is not installed: apt-get install runc (the differential oracle)"
    );
    let env = Env::new(name);
    env.config_sh(PROBE, edit);
    let ours = env.run_ok(&env.id("brig"));
    let runc_root = env.dir.join("runc-root");
    let id = env.id("runc");
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["run", "--bundle", &path_str(&env.bundle), &id])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = std::process::Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["delete", "--force", &id])
        .output();
    assert!(out.status.success(), "runc failed: {}", text(&out.stderr));
    let theirs = text(&out.stdout);
    for (a, b) in ours.lines().zip(theirs.lines()) {
        assert_eq!(
            a, b,
            "brig and runc differ\n--- brig ---\n{ours}\n--- runc ---\n{theirs}"
        );
    }
    assert_eq!(
        ours.lines().count(),
        theirs.lines().count(),
        "brig:\n{ours}\nrunc:\n{theirs}"
    );
}

#[test]
fn default_bundle() {
    compare("diff-default", |_| {});
}

#[test]
fn user_caps_rlimits_env() {
    compare("diff-user", |v| {
        v["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [5], "umask": 18});
        v["process"]["cwd"] = json!("/home/user");
        v["process"]["env"] = json!(["PATH=/bin", "A=1", "B=two words"]);
        let caps = json!(["CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"]);
        v["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 200, "hard": 300}]);
        v["process"]["oomScoreAdj"] = json!(100);
        v["process"]["noNewPrivileges"] = json!(false);
    });
}

#[test]
fn mounts_hostname_sysctl_writable_root() {
    compare("diff-mounts", |v| {
        v["hostname"] = json!("differential");
        v["root"]["readonly"] = json!(false);
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]
        }));
        v["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/motd"));
        v["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/home"));
    });
}

#[test]
fn user_namespace() {
    compare("diff-userns", |v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        // runc refuses a cgroup mount in a user namespace without a cgroup namespace; drop it for both.
        v["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "cgroup");
    });
}
