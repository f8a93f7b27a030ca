//! linux.seccomp: what the filter does inside the container, and that real clients' profiles load.
mod common;
use common::*;
use serde_json::json;

fn profile(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("tests/data").join(name)).unwrap())
        .unwrap()
}

#[test]
fn blocked_syscall_returns_the_configured_errno() {
    let env = Env::new("seccomp");
    env.config_sh("grep '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1; mkdir /tmp/d2 2>/dev/null && echo made; true", |v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat", "no_such_syscall_is_skipped"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        });
        v["mounts"].as_array_mut().unwrap().push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    let out = env.run_ok(&env.id("c"));
    assert!(out.starts_with("Seccomp:\t2"), "filter mode: {out}");
    assert!(
        out.contains("Function not implemented"),
        "errno 38 (ENOSYS): {out}"
    );
    assert!(!out.contains("made"), "{out}");
}

#[test]
fn argument_conditions() {
    let env = Env::new("seccomp-args");
    // A rule on an argument value (the shape of docker's personality rule), seen through busybox's linux64/linux32:
    // personality(PER_LINUX) passes, personality(PER_LINUX32 = 8) is refused.
    let script =
        "linux64 true && echo allowed64; linux32 true 2>/dev/null && echo changed || echo refused";
    env.config_sh(script, |v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]
        });
    });
    let out = env.run_ok(&env.id("c"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["allowed64", "refused"],
        "{out}"
    );
}

#[test]
fn docker_and_podman_default_profiles_load_and_work() {
    for (name, nnp) in [
        ("docker-seccomp.json", false),
        ("podman-seccomp.json", true),
    ] {
        let env = Env::new("seccomp-client");
        env.config_sh(
            "grep '^Seccomp:' /proc/self/status; ls / > /dev/null && echo works; id -u",
            |v| {
                v["linux"]["seccomp"] = profile(name);
                v["process"]["noNewPrivileges"] = json!(nnp);
                v["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            },
        );
        let out = env.run_ok(&env.id("c"));
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["Seccomp:\t2", "works", "1000"],
            "{name}: {out}"
        );
    }
}

#[test]
fn exec_gets_the_containers_filter() {
    let env = Env::new("seccomp-exec");
    env.config_sh("sleep 100", |v| {
        v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]});
    });
    let id = env.id("c");
    env.run_detached(&id);
    let out = env.brig(&[
        "exec",
        &id,
        "sh",
        "-c",
        "grep '^Seccomp:' /proc/self/status; mkdir /x 2>&1; true",
    ]);
    let o = text(&out.stdout);
    assert!(
        o.starts_with("Seccomp:\t2") && o.contains("Function not implemented"),
        "{o}"
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
}

#[test]
fn bad_profiles_are_refused_cleanly() {
    let env = Env::new("seccomp-bad");
    let mut v = env.base_config();
    v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"});
    env.write_config(&v);
    let id = env.id("a");
    let b = path_str(&env.bundle);
    env.fails(&["create", "--bundle", &b, &id], "SCMP_ACT_BOGUS");
    env.assert_gone(&id);
    // NOTIFY needs a listener; a listener that is not there fails create, leaving nothing behind.
    v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    env.write_config(&v);
    let id = env.id("b");
    env.fails(
        &["create", "--bundle", &b, &id],
        "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
    );
    env.assert_gone(&id);
    v["linux"]["seccomp"]["listenerPath"] = json!(path_str(&env.dir.join("nobody-listens.sock")));
    env.write_config(&v);
    let id = env.id("c");
    env.fails(
        &["create", "--bundle", &b, &id],
        "linux.seccomp.listenerPath",
    );
    env.assert_gone(&id);
}

#[test]
fn notify_fd_goes_to_the_listener_with_the_state() {
    use std::os::fd::AsRawFd;
    let env = Env::new("seccomp-notify");
    let sock = env.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    env.config_sh("mkdir /tmp/n 2>&1; echo done", |v| {
        v["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": path_str(&sock),
            "listenerMetadata": "meta-1",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
        v["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    let agent = std::thread::spawn(move || {
        let (payload, fd) = accept_fd(&listener);
        let state: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let fd = fd.expect("the notify fd came with the state");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        // Closing the listener makes the notified syscalls fail with ENOSYS.
        drop(fd);
        (state, link)
    });
    let id = env.id("c");
    let out = env.run_ok(&id);
    let (state, link) = agent.join().unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "meta-1");
    assert_eq!(state["state"]["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert!(link.to_string_lossy().contains("seccomp"), "{link:?}");
    assert!(
        out.contains("Function not implemented") && out.contains("done"),
        "{out}"
    );
}
