//! Bad input: a clear one-line error on stderr and in --log, a non-zero exit, and nothing left behind.
mod common;
use common::*;
use serde_json::json;

/// Run `create` and check the failure: exit 1, one line naming `needle`, the same text in the JSON log,
/// and no state dir, cgroup or stray process.
fn create_fails(env: &Env, id: &str, needle: &str) -> String {
    let log = env.dir.join(format!("{id}.log.json"));
    let b = path_str(&env.bundle);
    let before = processes_mentioning(&env.name);
    let out = env.brig(&[
        "--log",
        &path_str(&log),
        "--log-format",
        "json",
        "create",
        "--bundle",
        &b,
        id,
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "create must fail: {err}");
    assert!(
        err.contains(needle),
        "stderr {err:?} should mention {needle:?}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    let rec: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rec["level"], "error");
    assert!(rec["msg"].as_str().unwrap().contains(needle));
    env.assert_gone(id);
    wait_until("no process of the failed container", || {
        processes_mentioning(&env.name) <= before
    });
    err
}

/// Processes whose command line mentions this test's name (the init is a fork of brig with brig's argv).
fn processes_mentioning(name: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let alive = pid_alive(e.file_name().to_string_lossy().parse().unwrap_or(0));
            alive && text(&cmd).contains(name)
        })
        .count()
}

#[test]
fn missing_bundle_and_config() {
    let env = Env::new("nobundle");
    let out = env.brig(&["create", "--bundle", "/nonexistent/bundle", &env.id("a")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bundle /nonexistent/bundle"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(env.bundle.join("config.json")).unwrap();
    let err = create_fails(&env, &env.id("b"), "config.json: cannot read");
    assert!(
        err.contains(&path_str(&env.bundle)),
        "names the file: {err}"
    );
}

#[test]
fn malformed_config_names_line() {
    let env = Env::new("badjson");
    std::fs::write(
        env.bundle.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": [\n",
    )
    .unwrap();
    let err = create_fails(&env, &env.id("a"), "invalid JSON");
    assert!(err.contains("line"), "{err}");
}

#[test]
fn wrong_version_missing_rootfs_missing_process() {
    let env = Env::new("badfields");
    let mut v = env.base_config();
    v["ociVersion"] = json!("2.0.0");
    env.write_config(&v);
    create_fails(&env, &env.id("a"), "ociVersion \"2.0.0\"");

    let mut v = env.base_config();
    v["root"]["path"] = json!("/nonexistent/rootfs");
    env.write_config(&v);
    create_fails(&env, &env.id("b"), "rootfs does not exist");

    let mut v = env.base_config();
    v.as_object_mut().unwrap().remove("process");
    env.write_config(&v);
    create_fails(&env, &env.id("c"), "process is missing");
}

#[test]
fn missing_executable_messages_docker_maps() {
    let env = Env::new("noexe");
    let mut v = env.base_config();
    v["process"]["args"] = json!(["no-such-program"]);
    env.write_config(&v);
    create_fails(&env, &env.id("a"), "executable file not found");
    v["process"]["args"] = json!(["/bin/no-such-program"]);
    env.write_config(&v);
    create_fails(&env, &env.id("b"), "no such file or directory");
    v["process"]["args"] = json!(["/etc/motd"]);
    env.write_config(&v);
    create_fails(&env, &env.id("c"), "permission denied");
    v["process"]["args"] = json!(["true"]);
    v["process"]["cwd"] = json!("/no/such/dir");
    env.write_config(&v);
    create_fails(&env, &env.id("d"), "process.cwd /no/such/dir");
}

#[test]
fn duplicate_and_invalid_ids() {
    let env = Env::new("ids");
    let id = env.id("dup");
    env.create_ok(&id);
    let out = env.create(&id);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        env.status(&id),
        "created",
        "the first container is unharmed"
    );
    let huge = "x".repeat(1000);
    for bad in ["../x", "a/b", "", huge.as_str(), ".hidden", "a b"] {
        let out = env.create(bad);
        assert_eq!(out.status.code(), Some(1), "id {bad:?} accepted");
        assert!(
            text(&out.stderr).contains("invalid container id"),
            "{}",
            text(&out.stderr)
        );
    }
    let entries: Vec<_> = std::fs::read_dir(&env.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries.len(), 1, "only the first container: {entries:?}");
    assert!(!env.dir.join("x").exists());
}

#[test]
fn failing_setup_leaves_nothing() {
    let env = Env::new("badmount");
    let mut v = env.base_config();
    v["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": "/nonexistent/source", "options": ["rbind"]
    }));
    env.write_config(&v);
    create_fails(&env, &env.id("a"), "/nonexistent/source");

    let mut v = env.base_config();
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]);
    env.write_config(&v);
    let out = env.create(&env.id("b"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("config.json"),
        "{}",
        text(&out.stderr)
    );
    env.assert_gone(&env.id("b"));

    let mut v = env.base_config();
    v["linux"]["resources"] = json!({"memory": {"swappiness": 500}});
    env.write_config(&v);
    create_fails(&env, &env.id("c"), "swappiness");
}

#[test]
fn console_socket_that_does_not_exist() {
    let env = Env::new("nosock");
    let mut v = env.base_config();
    v["process"]["terminal"] = json!(true);
    env.write_config(&v);
    let id = env.id("a");
    let out = env.brig(&[
        "create",
        "--console-socket",
        "/nonexistent.sock",
        "--bundle",
        &path_str(&env.bundle),
        &id,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--console-socket /nonexistent.sock"),
        "{}",
        text(&out.stderr)
    );
    env.assert_gone(&id);
    create_fails(&env, &env.id("b"), "console-socket");
}

fn hook_script(env: &Env, name: &str, body: &str) -> String {
    let path = env.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&path).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path_str(&path)
}

#[test]
fn failing_and_slow_hooks() {
    let env = Env::new("badhooks");
    let fail = hook_script(&env, "fail.sh", "echo broken >&2; exit 3");
    let mut v = env.base_config();
    v["hooks"] = json!({"createRuntime": [{"path": fail}]});
    env.write_config(&v);
    let err = create_fails(&env, &env.id("a"), "createRuntime hook #0");
    assert!(
        err.contains("exit status 3") && err.contains("broken"),
        "{err}"
    );

    let slow = hook_script(&env, "slow.sh", "sleep 30");
    v["hooks"] = json!({"prestart": [{"path": slow, "timeout": 1}]});
    env.write_config(&v);
    let started = std::time::Instant::now();
    create_fails(&env, &env.id("b"), "timed out after 1s");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn every_hook_kind_runs_with_state() {
    let env = Env::new("hooks");
    let log = env.dir.join("hooks.log");
    let mut v = env.base_config();
    let mut hooks = serde_json::Map::new();
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        let script = hook_script(
            &env,
            &format!("{kind}.sh"),
            &format!("echo \"{kind} $(cat) $MYVAR $0 $1\" >> {}", log.display()),
        );
        hooks.insert(
            kind.into(),
            json!([{"path": script, "args": ["arg0", "arg1"], "env": ["MYVAR=set"]}]),
        );
    }
    // startContainer runs inside the container: a program from its rootfs, writing to a bind mount.
    let shared = env.dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    hooks.insert(
        "startContainer".into(),
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "cat > /shared/start"]}]),
    );
    v["hooks"] = serde_json::Value::Object(hooks);
    v["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/shared", "type": "bind", "source": path_str(&shared), "options": ["rbind"]
    }));
    v["process"]["args"] = json!(["sh", "-c", "exit 0"]);
    env.write_config(&v);
    let id = env.id("c");
    env.run_ok(&id);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let order: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        order,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
    for l in &lines {
        assert!(
            l.contains(&format!("\"id\":\"{id}\"")),
            "state on stdin: {l}"
        );
        // $0 of a script is its path (the kernel's doing); the rest of args and the hook's env arrive.
        assert!(
            l.contains(" set ") && l.ends_with(" arg1"),
            "env and args: {l}"
        );
    }
    assert!(lines[0].contains("\"status\":\"creating\""));
    assert!(lines[3].contains("\"status\":\"running\""));
    assert!(lines[4].contains("\"status\":\"stopped\""));
    let start = std::fs::read_to_string(shared.join("start")).unwrap();
    assert!(start.contains("\"status\":\"created\""), "{start}");
}
