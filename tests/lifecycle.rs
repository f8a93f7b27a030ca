//! The verbs: create/start/state/kill/delete, run (foreground and detached), list, spec, --version, --log.
mod common;
use common::*;
use std::process::Stdio;

#[test]
fn create_start_state_kill_delete() {
    let env = Env::new("lifecycle");
    env.config_sh("sleep 100", |_| {});
    let id = env.id("c");
    let pid_file = env.dir.join("init.pid");
    let b = path_str(&env.bundle);
    let out = env.brig(&[
        "create",
        "--bundle",
        &b,
        "--pid-file",
        &path_str(&pid_file),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "create must print nothing"
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.as_str());
    assert!(pid_alive(pid));
    // The created init has not exec'd the user's program yet.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        !text(&cmdline).contains("sleep"),
        "created init already runs the program"
    );

    assert!(env.brig(&["start", &id]).status.success());
    assert_eq!(env.status(&id), "running");
    wait_until("exec of sleep", || {
        text(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).contains("sleep")
    });

    env.fails(&["start", &id], "already started");
    env.fails(&["delete", &id], "not stopped: running");

    // pid 1 of a pid namespace ignores signals it has no handler for: SIGKILL it.
    assert!(env.brig(&["kill", &id, "KILL"]).status.success());
    wait_until("container to stop", || env.status(&id) == "stopped");
    assert_eq!(env.state(&id)["pid"], 0);
    env.fails(&["kill", &id, "9"], "container not running");

    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
    env.fails(&["state", &id], "does not exist");
}

#[test]
fn delete_of_created_container_kills_its_init() {
    let env = Env::new("delcreated");
    let id = env.id("c");
    env.create_ok(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    assert!(env.brig(&["delete", &id]).status.success());
    wait_until("init to die", || !pid_alive(pid));
    env.assert_gone(&id);
}

#[test]
fn delete_force_kills_running_and_tolerates_missing() {
    let env = Env::new("delforce");
    env.config_sh("sleep 100", |_| {});
    let id = env.id("c");
    env.run_detached(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    assert_eq!(env.status(&id), "running");
    let out = env.brig(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!pid_alive(pid));
    env.assert_gone(&id);
    let missing = env.brig(&["delete", "--force", &id]);
    assert!(
        missing.status.success(),
        "delete --force of a missing container must exit 0"
    );
}

#[test]
fn foreground_run_exit_status_and_cleanup() {
    let env = Env::new("exitcode");
    env.config_sh("echo out; echo err >&2; exit 7", |_| {});
    let id = env.id("c");
    let (code, out, err) = env.run(&id);
    assert_eq!(code, 7);
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    env.assert_gone(&id);

    // Killed by a signal: 128 + its number, like a shell.
    env.config_sh("sleep 100", |_| {});
    let id = env.id("k");
    let mut child = env
        .cmd()
        .args(["run", "--bundle", &path_str(&env.bundle), &id])
        .spawn()
        .unwrap();
    wait_until("running", || {
        env.brig(&["state", &id]).status.success() && env.status(&id) == "running"
    });
    assert!(env.brig(&["kill", &id, "KILL"]).status.success());
    assert_eq!(child.wait().unwrap().code(), Some(137));
    env.assert_gone(&id);
}

#[test]
fn foreground_run_forwards_signals() {
    let env = Env::new("forward");
    let marker = env.dir.join("ready");
    std::fs::create_dir_all(&marker).unwrap();
    env.config_sh("trap 'exit 42' TERM; touch /ready/yes; while true; do sleep 0.05; done", |v| {
        v["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/ready", "type": "bind", "source": marker.to_string_lossy(), "options": ["rbind"]
        }));
    });
    let id = env.id("c");
    let mut child = env
        .cmd()
        .args(["run", "--bundle", &path_str(&env.bundle), &id])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("container to be ready", || marker.join("yes").exists());
    // SAFETY: signal our own child (the brig process).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    env.assert_gone(&id);
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let env = Env::new("keep");
    let id = env.id("c");
    let out = env.brig(&["run", "--keep", "--bundle", &path_str(&env.bundle), &id]);
    assert!(out.status.success());
    assert_eq!(env.status(&id), "stopped");
    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn kill_signal_spellings_and_all() {
    let env = Env::new("killsig");
    env.config_sh(
        "trap 'echo got-usr1 > /tmp/sig' USR1; sleep 1 & wait; sleep 100",
        |v| {
            v["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]
            }));
        },
    );
    let id = env.id("c");
    env.run_detached(&id);
    for sig in ["SIGUSR1", "usr1", "10"] {
        assert!(env.brig(&["kill", &id, sig]).status.success(), "kill {sig}");
    }
    env.fails(&["kill", &id, "NOPE"], "unknown signal");
    assert!(env.brig(&["kill", "--all", &id, "KILL"]).status.success());
    wait_until("stop", || env.status(&id) == "stopped");
    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn list_table_json_and_quiet() {
    let env = Env::new("list");
    env.config_sh("sleep 100", |_| {});
    let (a, b) = (env.id("a"), env.id("b"));
    env.create_ok(&a);
    env.create_ok(&b);
    assert!(env.brig(&["start", &b]).status.success());
    let table = text(&env.brig(&["list"]).stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].ends_with("OWNER")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&a) && l.contains("created")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&b) && l.contains("running")),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&env.brig(&["list", "--format", "json"]).stdout).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert!(arr
        .iter()
        .all(|c| c["ociVersion"].is_string() && c["pid"].as_i64().unwrap() > 0));
    let quiet = text(&env.brig(&["list", "-q"]).stdout);
    assert_eq!(quiet, format!("{a}\n{b}\n"));
    let empty = Env::new("list-empty");
    assert_eq!(
        text(&empty.brig(&["list", "--format", "json"]).stdout).trim(),
        "[]"
    );
}

#[test]
fn spec_writes_default_config_once() {
    let env = Env::new("spec");
    let dir = env.dir.join("newbundle");
    std::fs::create_dir_all(&dir).unwrap();
    let out = env.brig(&["spec", "--bundle", &path_str(&dir)]);
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"][0], "sh");
    let again = env.brig(&["spec", "--bundle", &path_str(&dir)]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists"));
}

#[test]
fn version_lines_docker_parses() {
    let out = Env::new("version").brig(&["--version"]);
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with("brig version "), "{t}");
    assert!(lines[1].starts_with("commit: "), "{t}");
    assert!(lines[2].starts_with("spec: 1."), "{t}");
}

#[test]
fn errors_go_to_json_log_like_runc() {
    let env = Env::new("log");
    let log = env.dir.join("log.json");
    let out = env.brig(&[
        "--log",
        &path_str(&log),
        "--log-format",
        "json",
        "kill",
        "nosuch",
        "9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
    let line = std::fs::read_to_string(&log).unwrap();
    let rec: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(rec["level"], "error");
    assert!(rec["msg"]
        .as_str()
        .unwrap()
        .contains("container nosuch does not exist"));
    assert!(rec["time"].as_str().unwrap().ends_with('Z'));
    // podman's spelling, and the file is created even when nothing fails.
    let log2 = env.dir.join("log2.json");
    let out = env.brig(&["--log-format=json", "--log", &path_str(&log2), "list"]);
    assert!(out.status.success());
    assert!(log2.exists());
}

#[test]
fn systemd_cgroup_is_refused_not_ignored() {
    let out = Env::new("systemd").brig(&["--systemd-cgroup", "list"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("systemd"));
}

#[test]
fn a_reused_pid_never_reads_as_running() {
    let env = Env::new("pidreuse");
    let id = env.id("c");
    let b = path_str(&env.bundle);
    assert!(env
        .brig(&["run", "--keep", "--bundle", &b, &id])
        .status
        .success());
    // Point the record at a live process that is not the container (this test process).
    let state_path = env.root.join(&id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    st["pid"] = (std::process::id() as i64).into();
    std::fs::write(&state_path, serde_json::to_vec(&st).unwrap()).unwrap();
    assert_eq!(env.status(&id), "stopped");
    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
}
