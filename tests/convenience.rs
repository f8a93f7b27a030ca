//! The verbs for people: run -d with a log, logs, ps without an id, stop, rm, run/create flags, --overlay.
//! (commit has tests/commit.rs.)

mod common;
use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// `run -d` with extra brig arguments (flags before the id, `-- COMMAND` after it), which must succeed.
fn run_d(env: &Env, id: &str, flags: &[&str], command: &[&str]) -> String {
    let b = path_str(&env.bundle);
    let mut args = vec!["run", "-d", "--bundle", &b];
    args.extend_from_slice(flags);
    if !id.is_empty() {
        args.push(id);
    }
    if !command.is_empty() {
        args.push("--");
        args.extend_from_slice(command);
    }
    let out = env.brig(&args);
    assert!(out.status.success(), "run -d failed: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The containers `ps -a --format json` lists.
fn ps_all(env: &Env) -> Vec<Value> {
    let out = env.brig(&["ps", "-a", "--format", "json"]);
    assert!(out.status.success(), "ps failed: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ps_row(env: &Env, id: &str) -> Option<Value> {
    ps_all(env).into_iter().find(|r| r["id"] == id)
}

/// Wait for a detached container to end; its exit code as its monitor recorded it.
fn wait_exited(env: &Env, id: &str) -> i64 {
    let mut code = None;
    wait_until(&format!("{id} to exit"), || {
        code = ps_row(env, id).and_then(|r| r["exit_code"].as_i64());
        code.is_some()
    });
    code.unwrap()
}

fn logs(env: &Env, args: &[&str]) -> (String, String) {
    let mut a = vec!["logs"];
    a.extend_from_slice(args);
    let out = env.brig(&a);
    assert!(out.status.success(), "logs failed: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

fn mounted_under(path: &std::path::Path) -> Vec<String> {
    let p = path_str(path);
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(4)
                .is_some_and(|m| m.starts_with(&p))
        })
        .map(String::from)
        .collect()
}

#[test]
fn run_detached_logs_output_and_exit_code() {
    let env = Env::new("logs");
    // Two pipes: only the pauses make the order in which the monitor sees the lines certain.
    env.config_sh(
        "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; exit 7",
        |_| {},
    );
    let id = env.id("l");
    assert_eq!(
        run_d(&env, &id, &[], &[]),
        "",
        "an explicit id is not printed"
    );
    assert_eq!(wait_exited(&env, &id), 7);
    let (out, err) = logs(&env, &[&id]);
    assert_eq!(out, "out1\nout2\n");
    assert_eq!(err, "err1\n");
    let (tail, _) = logs(&env, &["--tail", "1", &id]);
    assert_eq!(tail, "out2\n");
    let (stamped, _) = logs(&env, &["--timestamps", &id]);
    for line in stamped.lines() {
        let (t, rest) = line.split_once(' ').unwrap();
        assert!(humantime::parse_rfc3339(t).is_ok(), "{line}");
        assert!(rest.starts_with("out"), "{line}");
    }
    // The log is plain lines in the state dir.
    let raw = std::fs::read_to_string(env.root.join(&id).join("container.log")).unwrap();
    assert_eq!(raw, "out1\nerr1\nout2\n");
}

#[test]
fn run_detached_without_id_prints_a_generated_one() {
    let env = Env::new("genid");
    env.config_sh("sleep 100", |_| {});
    let out = run_d(&env, "", &[], &[]);
    let id = out.trim();
    assert_eq!(id.len(), 12, "{out:?}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{out:?}");
    assert_eq!(env.status(id), "running");
    let out = env.brig(&["rm", "-f", id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    env.assert_gone(id);
    // docker's --name is the id too, and prints nothing.
    let named = env.id("named");
    assert_eq!(run_d(&env, "", &["--name", &named], &[]), "");
    assert_eq!(env.status(&named), "running");
}

#[test]
fn logs_follow_runs_until_the_container_ends() {
    let env = Env::new("follow");
    env.config_sh(
        "for i in 1 2 3 4; do echo line$i; sleep 0.3; done; echo done >&2",
        |_| {},
    );
    let id = env.id("f");
    run_d(&env, &id, &[], &[]);
    let started = Instant::now();
    let (out, err) = logs(&env, &["-f", &id]);
    assert_eq!(out, "line1\nline2\nline3\nline4\n");
    assert_eq!(err, "done\n");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "logs -f returned before the container ended"
    );
    assert_eq!(ps_row(&env, &id).unwrap()["status"], "stopped");
}

#[test]
fn detached_terminal_output_goes_to_the_log() {
    let env = Env::new("ttylog");
    env.config_sh("tty; echo on-a-tty", |v| {
        v["process"]["terminal"] = true.into()
    });
    let id = env.id("t");
    run_d(&env, &id, &[], &[]);
    wait_exited(&env, &id);
    let (out, _) = logs(&env, &[&id]);
    assert_eq!(out, "/dev/pts/0\non-a-tty\n");
}

#[test]
fn run_detached_rm_removes_the_container_when_it_exits() {
    let env = Env::new("autorm");
    env.config_sh("sleep 0.3", |_| {});
    let id = env.id("r");
    run_d(&env, &id, &["--rm"], &[]);
    assert!(env.root.join(&id).exists());
    wait_until("the container to be removed", || {
        !env.root.join(&id).exists()
    });
    env.assert_gone(&id);
}

#[test]
fn stop_kills_a_process_that_ignores_sigterm_after_the_timeout() {
    let env = Env::new("stop");
    env.config_sh("sleep 100", |_| {});
    let stubborn = env.id("stubborn");
    let polite = env.id("polite");
    run_d(
        &env,
        &stubborn,
        &[],
        &["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"],
    );
    run_d(
        &env,
        &polite,
        &[],
        &[
            "sh",
            "-c",
            "trap 'exit 3' TERM; while true; do sleep 0.1; done",
        ],
    );
    let t = Instant::now();
    let out = env.brig(&["stop", "-t", "1", &stubborn, &polite]);
    let took = t.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{stubborn} (killed: still running 1s after SIGTERM)"
        )),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == polite), "{stdout}");
    assert!(
        took >= Duration::from_secs(1),
        "SIGKILL came early: {took:?}"
    );
    assert_eq!(wait_exited(&env, &stubborn), 137);
    assert_eq!(wait_exited(&env, &polite), 3);
    // Stopping a stopped container is fine.
    let again = env.brig(&["stop", &polite]);
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("was not running"));
    // An unknown id fails, after the others were handled.
    env.fails(
        &["stop", &polite, "no-such-ctr"],
        "container no-such-ctr does not exist",
    );
}

#[test]
fn ps_lists_created_running_and_stopped_containers() {
    let env = Env::new("ps");
    env.config_sh("sleep 100", |_| {});
    let (created, running, stopped) = (env.id("c"), env.id("r"), env.id("s"));
    env.create_ok(&created);
    run_d(&env, &running, &[], &[]);
    run_d(&env, &stopped, &[], &["true"]);
    wait_exited(&env, &stopped);

    let table = text(&env.brig(&["ps"]).stdout);
    let header = table.lines().next().unwrap();
    for col in ["ID", "PID", "STATUS", "COMMAND", "CREATED", "BUNDLE"] {
        assert!(header.contains(col), "{header}");
    }
    let line = |t: &str, id: &str| t.lines().find(|l| l.starts_with(id)).map(String::from);
    assert!(
        line(&table, &created).unwrap().contains("Created"),
        "{table}"
    );
    let r = line(&table, &running).unwrap();
    assert!(
        r.contains("Up ") && r.contains("\"sh -c sleep 100\""),
        "{table}"
    );
    assert!(r.contains(" ago"), "{table}");
    assert!(
        line(&table, &stopped).is_none(),
        "stopped listed without -a:\n{table}"
    );

    let all = text(&env.brig(&["ps", "-a"]).stdout);
    assert!(
        line(&all, &stopped).unwrap().contains("Exited (0) "),
        "{all}"
    );

    let rows = ps_all(&env);
    let status = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap()["status"].clone();
    assert_eq!(status(&created), "created");
    assert_eq!(status(&running), "running");
    assert_eq!(status(&stopped), "stopped");

    let quiet = text(&env.brig(&["ps", "-q"]).stdout);
    let mut ids: Vec<&str> = quiet.lines().collect();
    ids.sort();
    let mut want = vec![created.as_str(), running.as_str()];
    want.sort();
    assert_eq!(ids, want);

    // With an id, ps keeps runc's meaning: the container's host pids.
    let pids: Vec<i64> =
        serde_json::from_slice(&env.brig(&["ps", "--format", "json", &running]).stdout).unwrap();
    assert_eq!(pids, vec![env.state(&running)["pid"].as_i64().unwrap()]);
}

#[test]
fn rm_refuses_a_running_container_without_force() {
    let env = Env::new("rm");
    env.config_sh("sleep 100", |_| {});
    let id = env.id("x");
    run_d(&env, &id, &[], &[]);
    env.fails(&["rm", &id], &format!("use brig rm -f {id}"));
    assert_eq!(env.status(&id), "running");
    env.fails(
        &["rm", "no-such-ctr"],
        "container no-such-ctr does not exist",
    );
    let out = env.brig(&["rm", "-f", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{id}\n"));
    env.assert_gone(&id);
}

#[test]
fn volumes_keep_their_data_after_rm() {
    let env = Env::new("vol");
    env.config_sh(
        "echo kept > /data/file; echo ro > /ro/file || echo refused",
        |_| {},
    );
    let host = env.dir.join("host/data");
    let ro = env.dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let id = env.id("v");
    let v1 = format!("{}:/data", path_str(&host));
    let v2 = format!("{}:/ro:ro", path_str(&ro));
    run_d(&env, &id, &["-v", &v1, "-v", &v2], &[]);
    wait_exited(&env, &id);
    assert_eq!(logs(&env, &[&id]).0, "refused\n");
    let out = env.brig(&["rm", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    env.assert_gone(&id);
    assert_eq!(
        std::fs::read_to_string(host.join("file")).unwrap(),
        "kept\n"
    );
    assert!(!ro.join("file").exists());
}

#[test]
fn env_workdir_user_hostname_flags_change_the_container_not_the_bundle() {
    let env = Env::new("flags");
    env.config_sh(
        "echo $GREETING $(pwd) $(id -u):$(id -g) $(hostname)",
        |_| {},
    );
    let before = std::fs::read(env.bundle.join("config.json")).unwrap();
    let id = env.id("f");
    let b = path_str(&env.bundle);
    let out = env.brig(&[
        "run",
        "--bundle",
        &b,
        "-e",
        "GREETING=hi",
        "-w",
        "/tmp",
        "-u",
        "user",
        "--hostname",
        "box",
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi /tmp 1000:1000 box\n");
    assert_eq!(
        std::fs::read(env.bundle.join("config.json")).unwrap(),
        before
    );
    // And `-- COMMAND` replaces the bundle's args.
    let out = env.brig(&["run", "--bundle", &b, &id, "--", "echo", "replaced"]);
    assert_eq!(text(&out.stdout), "replaced\n");
}

#[test]
fn bad_convenience_flags_are_refused_and_leave_nothing() {
    let env = Env::new("badflags");
    let b = path_str(&env.bundle);
    let id = env.id("b");
    for (flags, needle) in [
        (
            vec!["-v", "/srv/data"],
            "-v \"/srv/data\": expected HOST:CTR",
        ),
        (
            vec!["-v", "/srv:data"],
            "the container path \"data\" must be absolute",
        ),
        (vec!["-v", "/srv:/data:rx"], "unknown mode \"rx\""),
        (vec!["-e", "NOVALUE"], "-e \"NOVALUE\": expected NAME=VALUE"),
        (
            vec!["-w", "tmp"],
            "-w \"tmp\": the working directory must be an absolute path",
        ),
        (vec!["-u", "nobody-here"], "no user \"nobody-here\""),
    ] {
        let mut args = vec!["run", "-d", "--bundle", &b];
        args.extend(flags);
        args.push(&id);
        env.fails(&args, needle);
        env.assert_gone(&id);
    }
    let missing = env.dir.join("never-made");
    let v = format!("{}:data", path_str(&missing));
    env.fails(
        &["run", "-d", "--bundle", &b, "-v", &v, &id],
        "must be absolute",
    );
    assert!(!missing.exists(), "a refused volume created its host dir");
    // A failing create removes the volume dirs it made.
    let v = format!("{}:/data", path_str(&missing));
    env.fails(
        &[
            "run",
            "-d",
            "--bundle",
            &b,
            "-v",
            &v,
            &id,
            "--",
            "/no/such/program",
        ],
        "no such file or directory",
    );
    assert!(!missing.exists(), "a failed create left its volume dir");
    env.assert_gone(&id);
    env.fails(
        &["logs", "no-such-ctr"],
        "container no-such-ctr does not exist",
    );
    env.create_ok(&id);
    env.fails(&["logs", &id], "has no log");
}

#[test]
fn overlay_containers_from_one_bundle_see_only_their_own_writes() {
    let env = Env::new("overlay");
    // Both write the same file while both run, then read it back.
    env.config_sh("echo $NAME > /etc/same; sleep 0.5; cat /etc/same", |_| {});
    let (a, b) = (env.id("a"), env.id("b"));
    run_d(&env, &a, &["--overlay", "-e", "NAME=from-a"], &[]);
    run_d(&env, &b, &["--overlay", "-e", "NAME=from-b"], &[]);
    wait_exited(&env, &a);
    wait_exited(&env, &b);
    assert_eq!(logs(&env, &[&a]).0, "from-a\n");
    assert_eq!(logs(&env, &[&b]).0, "from-b\n");
    assert!(
        !rootfs().join("etc/same").exists(),
        "the bundle's rootfs was written"
    );
    assert_eq!(
        std::fs::read_to_string(env.root.join(&a).join("upper/etc/same")).unwrap(),
        "from-a\n"
    );
    for id in [&a, &b] {
        let out = env.brig(&["rm", id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        env.assert_gone(id);
    }
    assert!(
        mounted_under(&env.root).is_empty(),
        "{:?}",
        mounted_under(&env.root)
    );
}

#[test]
fn overlay_annotation_asks_for_the_layer() {
    let env = Env::new("overlay-ann");
    env.config_sh("echo x > /written-here && echo wrote", |v| {
        v["annotations"] = serde_json::json!({"brig.overlay": "true"});
    });
    let id = env.id("a");
    assert_eq!(env.run_ok(&id), "wrote\n");
    assert!(!rootfs().join("written-here").exists());
    env.assert_gone(&id);
    assert!(mounted_under(&env.root).is_empty());
    env.config_sh("true", |v| {
        v["annotations"] = serde_json::json!({"brig.overlay": "yes"});
    });
    env.fails(
        &["run", "--bundle", &path_str(&env.bundle), &id],
        "annotation brig.overlay",
    );
    env.assert_gone(&id);
}

/// Undoes the overlay stack of the test below, even when it fails.
struct Mounts(Vec<std::path::PathBuf>);
impl Drop for Mounts {
    fn drop(&mut self) {
        for m in self.0.iter().rev() {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

#[test]
fn overlay_on_a_rootfs_that_cannot_be_a_lower_layer_is_refused_cleanly() {
    let env = Env::new("overlay-deep");
    // overlayfs stacks at most two deep: a rootfs on an overlay of an overlay cannot be a lower layer.
    let d = env.dir.join("stack");
    let mut mounts = Mounts(Vec::new());
    let mut lower = d.join("l0");
    std::fs::create_dir_all(&lower).unwrap();
    for level in 1..=2 {
        let (u, w, m) = (
            d.join(format!("u{level}")),
            d.join(format!("w{level}")),
            d.join(format!("m{level}")),
        );
        for p in [&u, &w, &m] {
            std::fs::create_dir_all(p).unwrap();
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            path_str(&lower),
            path_str(&u),
            path_str(&w)
        );
        nix::mount::mount(
            Some("overlay"),
            &m,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .unwrap();
        mounts.0.push(m.clone());
        lower = m;
    }
    let mut v = env.base_config();
    v["root"]["path"] = path_str(&lower).into();
    env.write_config(&v);
    let id = env.id("o");
    env.fails(
        &[
            "run",
            "-d",
            "--overlay",
            "--bundle",
            &path_str(&env.bundle),
            &id,
        ],
        "cannot be the lower layer of an overlay",
    );
    env.assert_gone(&id);
    assert!(mounted_under(&env.root).is_empty());
}

#[test]
fn the_monitor_keeps_nothing_of_its_callers() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let env = Env::new("monitor");
    env.config_sh("readlink /proc/self/fd/3; sleep 100", |_| {});
    let id = env.id("m");
    let handed = env.dir.join("handed-over");
    let file = std::fs::File::create(&handed).unwrap();
    let raw = file.as_raw_fd();
    let b = path_str(&env.bundle);
    // A relative --root, from the caller's directory, which the monitor leaves.
    let mut cmd = std::process::Command::new(BRIG);
    cmd.args([
        "--root",
        "root",
        "run",
        "-d",
        "--rm",
        "--preserve-fds",
        "1",
        "--bundle",
        &b,
        &id,
    ])
    .current_dir(&env.dir)
    .stdout(std::process::Stdio::null());
    // SAFETY: dup2 in the child before exec; `raw` stays open in the parent until then.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would keep close-on-exec.
            let r = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    wait_until("the container's output", || {
        logs(&env, &[&id]).0.contains("handed-over")
    });
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i64 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let monitor = std::path::PathBuf::from(format!("/proc/{ppid}"));
    assert_eq!(
        std::fs::read_link(monitor.join("cwd")).unwrap(),
        std::path::Path::new("/")
    );
    for fd in std::fs::read_dir(monitor.join("fd")).unwrap().flatten() {
        let target = std::fs::read_link(fd.path()).unwrap();
        assert!(
            !target.starts_with(&env.dir) || target.starts_with(&env.root),
            "the monitor holds {} of its caller's",
            target.display()
        );
    }
    // It still finds the container under the relative root: --rm removes it when it ends.
    let out = env.brig(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until("--rm to remove the container", || {
        !env.root.join(&id).exists()
    });
}

#[test]
fn stop_thaws_a_paused_container_and_kills_a_created_one_at_once() {
    let env = Env::new("stop-states");
    env.config_sh("trap 'exit 3' TERM; while true; do sleep 0.1; done", |_| {});
    let (paused, created) = (env.id("p"), env.id("c"));
    run_d(&env, &paused, &[], &[]);
    // Give the shell a moment to install its trap before it is frozen.
    std::thread::sleep(Duration::from_millis(300));
    assert!(env.brig(&["pause", &paused]).status.success());
    env.create_ok(&created);
    let t = Instant::now();
    let out = env.brig(&["stop", "-t", "20", &paused, &created]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "stop waited for the timeout"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.lines().any(|l| l == paused), "{stdout}");
    assert!(stdout.contains(&format!("{created} (killed")), "{stdout}");
    assert_eq!(wait_exited(&env, &paused), 3);
    assert_eq!(env.status(&created), "stopped");
}

#[test]
fn ps_counts_up_time_from_start_not_from_create() {
    let env = Env::new("ps-up");
    env.config_sh("sleep 100", |_| {});
    let id = env.id("u");
    env.create_ok(&id);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(env.brig(&["start", &id]).status.success());
    let row = ps_row(&env, &id).unwrap();
    let t = |k: &str| humantime::parse_rfc3339(row[k].as_str().unwrap()).unwrap();
    let gap = t("started").duration_since(t("created")).unwrap();
    assert!(gap >= Duration::from_secs(1), "{row}");
}

#[test]
fn more_bad_input_for_the_new_verbs_and_flags() {
    let env = Env::new("bad-more");
    env.config_sh("sleep 100", |_| {});
    let b = path_str(&env.bundle);
    let id = env.id("x");
    // create keeps runc's rule: an id is required.
    env.fails(&["create", "--bundle", &b], "create needs a container id");
    assert!(!env.root.exists() || std::fs::read_dir(&env.root).unwrap().next().is_none());
    // ps: -a and -q are for the container list.
    env.fails(&["ps", "-a", &id], "ps: -a and -q list containers");
    // An overlay lower layer whose path overlayfs options cannot carry.
    let odd = env.dir.join("root:fs");
    std::fs::create_dir_all(&odd).unwrap();
    let mut v = env.base_config();
    v["root"]["path"] = path_str(&odd).into();
    env.write_config(&v);
    env.fails(
        &["run", "-d", "--overlay", "--bundle", &b, &id],
        "which overlayfs options cannot carry",
    );
    env.assert_gone(&id);
    assert!(mounted_under(&env.root).is_empty());
    // commit --force onto a directory.
    env.config_sh("true", |_| {});
    env.create_ok(&id);
    let dir = env.dir.join("a-dir");
    std::fs::create_dir_all(&dir).unwrap();
    env.fails(
        &["commit", "--force", &id, &path_str(&dir)],
        "is a directory",
    );
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
}
