//! Cgroups seen from inside and outside: placement, resources, pause/resume, ps, update, kill --all.
mod common;
use common::*;
use serde_json::json;
use std::path::PathBuf;

/// The container's directory in the hierarchy that has `file` (from brig's own state record).
fn cgroup_file(env: &Env, id: &str, file: &str) -> PathBuf {
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.root.join(id).join("state.json")).unwrap())
            .unwrap();
    st["cgroup"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| PathBuf::from(d.as_str().unwrap()).join(file))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no cgroup dir of {id} has {file}"))
}

/// A v2-only host (the cgroup v2 guest of conformance/test-cgroup-v2.sh) rather than v1 or hybrid.
fn v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// cpu.shares as v2's cpu.weight (runc's conversion) or as v1 writes it.
fn shares(s: u64) -> String {
    if !v2() {
        return s.to_string();
    }
    let l = (s as f64).log2();
    (10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0).ceil() as u64).to_string()
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p).unwrap().trim().to_string()
}

#[test]
fn pause_and_resume() {
    let env = Env::new("pause");
    env.config_sh("while true; do sleep 0.01; done", |_| {});
    let id = env.id("c");
    env.run_detached(&id);
    assert!(
        !env.brig(&["resume", &id]).status.success(),
        "resume of a running container"
    );
    assert!(env.brig(&["pause", &id]).status.success());
    assert_eq!(env.status(&id), "paused");
    if v2() {
        assert_eq!(read(&cgroup_file(&env, &id, "cgroup.freeze")), "1");
        assert!(read(&cgroup_file(&env, &id, "cgroup.events")).contains("frozen 1"));
    } else {
        assert_eq!(read(&cgroup_file(&env, &id, "freezer.state")), "FROZEN");
    }
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(
        stat.rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('D')
            || stat.contains(") S"),
        "{stat}"
    );
    assert!(
        !env.brig(&["pause", &id]).status.success(),
        "pause of a paused container"
    );
    assert!(env.brig(&["resume", &id]).status.success());
    assert_eq!(env.status(&id), "running");
    if v2() {
        assert!(read(&cgroup_file(&env, &id, "cgroup.events")).contains("frozen 0"));
    } else {
        assert_eq!(read(&cgroup_file(&env, &id, "freezer.state")), "THAWED");
    }
    // A paused container can still be force-deleted.
    assert!(env.brig(&["pause", &id]).status.success());
    let out = env.brig(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    env.assert_gone(&id);
}

#[test]
fn ps_lists_exactly_the_containers_processes() {
    let env = Env::new("ps");
    env.config_sh("sleep 100 & sleep 101 & wait", |_| {});
    let id = env.id("c");
    env.run_detached(&id);
    let procs = cgroup_file(&env, &id, "cgroup.procs");
    wait_until("three processes", || read(&procs).lines().count() == 3);
    let out = env.brig(&["ps", "--format", "json", &id]);
    assert!(out.status.success());
    let mut pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    pids.sort();
    let mut expected: Vec<i64> = read(&procs).lines().map(|l| l.parse().unwrap()).collect();
    expected.sort();
    assert_eq!(pids, expected);
    assert!(out.stderr.is_empty(), "the shim parses combined output");
    let table = text(&env.brig(&["ps", &id]).stdout);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(
        table.contains("sleep 100") && table.contains("sleep 101"),
        "{table}"
    );
    // kill --all reaches every process, not just the init.
    assert!(env.brig(&["kill", "--all", &id, "KILL"]).status.success());
    wait_until("stopped", || env.status(&id) == "stopped");
    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn resources_written_and_enforced() {
    let env = Env::new("resources");
    env.config_sh(
        "sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 100 & done' 2>/dev/null; exec sleep 100",
        |v| {
            v["linux"]["resources"] = json!({
                "pids": {"limit": 5},
                "memory": {"limit": 33554432, "reservation": 16777216},
                "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"}
            });
        },
    );
    let id = env.id("c");
    env.run_detached(&id);
    assert_eq!(read(&cgroup_file(&env, &id, "pids.max")), "5");
    assert_eq!(read(&cgroup_file(&env, &id, "cpuset.cpus")), "0");
    if v2() {
        assert_eq!(read(&cgroup_file(&env, &id, "memory.max")), "33554432");
        assert_eq!(read(&cgroup_file(&env, &id, "memory.low")), "16777216");
        assert_eq!(read(&cgroup_file(&env, &id, "cpu.weight")), shares(512));
        assert_eq!(read(&cgroup_file(&env, &id, "cpu.max")), "20000 100000");
    } else {
        assert_eq!(
            read(&cgroup_file(&env, &id, "memory.limit_in_bytes")),
            "33554432"
        );
        assert_eq!(
            read(&cgroup_file(&env, &id, "memory.soft_limit_in_bytes")),
            "16777216"
        );
        assert_eq!(read(&cgroup_file(&env, &id, "cpu.shares")), "512");
        assert_eq!(read(&cgroup_file(&env, &id, "cpu.cfs_quota_us")), "20000");
    }
    // The pids limit held: the inner shell died on a failed fork, never more than 5 processes.
    let procs = cgroup_file(&env, &id, "cgroup.procs");
    wait_until("forks to settle", || read(&procs).lines().count() >= 2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        read(&procs).lines().count() <= 5,
        "pids.max not enforced: {}",
        read(&procs)
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn memory_limit_oom_kills() {
    let env = Env::new("oom");
    // A shell variable holds all of it in memory: far past the limit.
    env.config_sh(
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
        |v| {
            v["linux"]["resources"] = json!({"memory": {"limit": 20971520, "swap": 20971520}});
        },
    );
    let id = env.id("c");
    let (code, out, _) = env.run(&id);
    assert!(
        !out.contains("survived 100000000"),
        "allocation past the limit was not stopped: {out}"
    );
    assert_ne!(code, 0, "{out}");
    env.assert_gone(&id);
}

#[test]
fn update_from_flags_file_and_stdin() {
    let env = Env::new("update");
    env.config_sh("sleep 100", |v| {
        v["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 100}});
    });
    let id = env.id("c");
    env.run_detached(&id);
    let limit = cgroup_file(
        &env,
        &id,
        if v2() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        },
    );
    let cpu_shares = if v2() { "cpu.weight" } else { "cpu.shares" };
    assert!(env
        .brig(&["update", "--memory", "96m", "--pids-limit", "50", &id])
        .status
        .success());
    assert_eq!(read(&limit), (96 << 20).to_string());
    assert_eq!(read(&cgroup_file(&env, &id, "pids.max")), "50");
    // podman: --resources=FILE
    let file = env.dir.join("res.json");
    std::fs::write(
        &file,
        r#"{"memory":{"limit":50331648},"cpu":{"shares":256}}"#,
    )
    .unwrap();
    let out = env.brig(&["update", &format!("--resources={}", file.display()), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read(&limit), "50331648");
    assert_eq!(read(&cgroup_file(&env, &id, cpu_shares)), shares(256));
    // docker: JSON on stdin, zeros mean unchanged.
    let mut child = env
        .cmd()
        .args(["update", "--resources", "-", &id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(br#"{"memory":{"limit":41943040,"reservation":0,"swap":0,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}"#).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(read(&limit), "41943040");
    assert_eq!(
        read(&cgroup_file(&env, &id, cpu_shares)),
        shares(256),
        "zero left it unchanged"
    );
    env.fails(&["update", "--memory", "lots", &id], "--memory");
    assert!(env.brig(&["delete", "--force", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn features_document() {
    let out = Env::new("features").brig(&["features"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["ociVersionMax"].as_str().unwrap().starts_with("1."));
    assert!(v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "user"));
}

#[test]
fn events_stats_and_oom() {
    let env = Env::new("events");
    let trigger = env.dir.join("trigger");
    std::fs::create_dir_all(&trigger).unwrap();
    let script = "while [ ! -e /trigger/go ]; do sleep 0.05; done; x=$(head -c 100000000 /dev/zero | tr '\\0' a); sleep 100";
    env.config_sh(script, |v| {
        v["linux"]["resources"] = json!({"memory": {"limit": 20971520, "swap": 20971520}});
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/trigger", "type": "bind", "source": path_str(&trigger), "options": ["rbind"]
        }));
    });
    let id = env.id("c");
    env.run_detached(&id);
    let out = env.brig(&["events", "--stats", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["type"], "stats");
    assert_eq!(rec["id"], id.as_str());
    assert!(
        rec["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{rec}"
    );
    assert_eq!(rec["data"]["memory"]["usage"]["limit"], 20971520);
    assert!(
        rec["data"]["pids"]["current"].as_u64().unwrap() >= 1,
        "{rec}"
    );
    assert!(
        rec["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{rec}"
    );

    let log = env.dir.join("events.out");
    let mut child = env
        .cmd()
        .args(["events", "--interval", "200ms", &id])
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_until("the first stats record", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(r#""type":"stats""#)
    });
    std::fs::write(trigger.join("go"), "").unwrap();
    wait_until("an oom event", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(r#""type":"oom""#)
    });
    let del = env.brig(&["delete", "--force", &id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    assert!(
        child.wait().unwrap().success(),
        "events ends when the container stops"
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(
        lines
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{lines}"
    );
    assert!(lines.contains(r#""type":"stats""#));
    env.fails(&["events", "--interval", "soon", &id], "--interval");
    env.assert_gone(&id);
}

#[test]
fn device_rules_enforced() {
    let env = Env::new("devrules");
    // /dev/net/tun opens without any capability, so only the device rules decide.
    let script = "(exec 3<>/dev/net/tun) 2>/dev/null && echo tun-open || echo tun-denied; echo ok > /dev/null && echo null-ok";
    let tun =
        json!([{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 438}]);
    env.config_sh(script, |v| {
        v["linux"]["devices"] = tun.clone();
        v["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    });
    let out = env.run_ok(&env.id("deny"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["tun-denied", "null-ok"],
        "a device node is not access: {out}"
    );
    env.config_sh(script, |v| {
        v["linux"]["devices"] = tun.clone();
        v["linux"]["resources"] = json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"}
        ]});
    });
    let out = env.run_ok(&env.id("allow"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["tun-open", "null-ok"],
        "{out}"
    );
}

#[test]
fn unified_keys_on_v2_refused_on_v1() {
    let env = Env::new("unified");
    env.config_sh("sleep 100", |v| {
        v["linux"]["resources"] = json!({"unified": {"memory.high": "50003968", "pids.max": "33"}});
    });
    let id = env.id("c");
    if v2() {
        env.run_detached(&id);
        assert_eq!(read(&cgroup_file(&env, &id, "memory.high")), "50003968");
        assert_eq!(read(&cgroup_file(&env, &id, "pids.max")), "33");
        assert!(env.brig(&["delete", "--force", &id]).status.success());
    } else {
        let b = path_str(&env.bundle);
        env.fails(
            &["run", "-d", "--bundle", &b, &id],
            "linux.resources.unified",
        );
    }
    env.assert_gone(&id);
    env.config_sh("true", |v| {
        v["linux"]["resources"] = json!({"unified": {"../../etc/passwd": "x"}});
    });
    let b = path_str(&env.bundle);
    let bad = env.id("bad");
    env.fails(&["run", "--bundle", &b, &bad], "linux.resources.unified");
    env.assert_gone(&bad);
}

#[test]
fn docker_zero_resources_mean_unset() {
    // What docker 20.10 writes into every config.json (see CONTRACT.md): zeros are "not set", as in runc.
    let env = Env::new("dockerzeros");
    env.config_sh("true", |v| {
        v["linux"]["resources"] = json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"disableOOMKiller": false},
            "cpu": {"shares": 0},
            "blockIO": {"weight": 0}
        });
    });
    env.run_ok(&env.id("c"));
}
