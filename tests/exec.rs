//! exec: a new process inside a running container, in its namespaces and cgroup.
mod common;
use common::*;
use serde_json::json;

fn running(env: &Env, name: &str) -> (String, i64) {
    env.config_sh("sleep 100", |v| v["hostname"] = json!("exechost"));
    let id = env.id(name);
    env.run_detached(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

#[test]
fn exec_joins_namespaces_and_cgroup_and_returns_status() {
    let env = Env::new("exec");
    let (id, pid) = running(&env, "c");
    let out = env.brig(&["exec", &id, "sh", "-c", "hostname; for n in pid net mnt uts ipc; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup; exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines[0], "exechost");
    for (i, n) in ["pid", "net", "mnt", "uts", "ipc"].iter().enumerate() {
        let init = std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(lines[i + 1], init.to_string_lossy(), "{n} namespace");
    }
    let init_cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(
        lines[6..].join("\n"),
        init_cgroups.trim_end(),
        "same cgroups as the init"
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn exec_flags_user_env_cwd_caps_nnp() {
    let env = Env::new("execflags");
    let (id, _) = running(&env, "c");
    let out = env.brig(&[
        "exec",
        "-u",
        "1000:1000",
        "-g",
        "5",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "--cap",
        "CAP_NET_RAW",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "id -u; id -G; pwd; echo $FOO; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(&lines[..4], ["1000", "1000 5", "/tmp", "bar"], "{o}");
    // CAP_NET_RAW is bit 13: with ambient it survives the switch to uid 1000.
    let eff = u64::from_str_radix(field(&o, "CapEff"), 16).unwrap();
    assert!(eff & (1 << 13) != 0, "{o}");
    assert_eq!(field(&o, "NoNewPrivs"), "1");
    assert!(env.brig(&["delete", "--force", &id]).status.success());
}

#[test]
fn exec_process_file_detached_with_pid_file() {
    let env = Env::new("execproc");
    let (id, _) = running(&env, "c");
    // The shape containerd and podman write (see CONTRACT.md).
    let proc_file = env.dir.join("process.json");
    std::fs::write(&proc_file, json!({
        "user": {"uid": 0, "gid": 0, "additionalGids": [0]},
        "args": ["sleep", "77"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "cwd": "/",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": true
    }).to_string()).unwrap();
    let pid_file = env.dir.join("exec.pid");
    let out = env.brig(&[
        "exec",
        "--process",
        &path_str(&proc_file),
        "--detach",
        "--pid-file",
        &path_str(&pid_file),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("exec of sleep 77", || {
        text(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).contains("77")
    });
    let pids: Vec<i32> =
        serde_json::from_slice(&env.brig(&["ps", "--format", "json", &id]).stdout).unwrap();
    assert!(
        pids.contains(&pid),
        "the exec'd process is in the container's cgroup: {pids:?}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(field(&status, "CapEff"), "0000000000000020");
    // A detached exec'd process is a child of brig's caller (here: this test), which must reap it, as conmon
    // and the shim do: until then the pid namespace cannot die.
    std::thread::spawn(move || nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None));
    let del = env.brig(&["delete", "--force", &id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    assert!(!pid_alive(pid), "delete --force kills exec'd processes too");
    env.assert_gone(&id);
}

#[test]
fn exec_user_names_from_the_containers_passwd() {
    let env = Env::new("execnames");
    let (id, _) = running(&env, "c");
    // bundles/busybox: user:x:1000:1000, group tty:x:5.
    let out = env.brig(&["exec", "-u", "user", &id, "id"]);
    assert_eq!(
        text(&out.stdout).trim(),
        "uid=1000(user) gid=1000(user)",
        "{}",
        text(&out.stderr)
    );
    let out = env.brig(&["exec", "-u", "user:tty", &id, "id"]);
    assert_eq!(
        text(&out.stdout).trim(),
        "uid=1000(user) gid=5(tty)",
        "{}",
        text(&out.stderr)
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
}

#[test]
fn exec_refusals_leave_the_container_unharmed() {
    let env = Env::new("execbad");
    let (id, _) = running(&env, "c");
    env.fails(
        &["exec", &id, "no-such-program"],
        "executable file not found",
    );
    env.fails(&["exec", &id], "no command");
    let bad = env.dir.join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    env.fails(
        &["exec", "--process", &path_str(&bad), &id],
        &format!("--process {}", bad.display()),
    );
    env.fails(
        &["exec", "-u", "alice", &id, "true"],
        "no user \"alice\" in the container's /etc/passwd",
    );
    env.fails(
        &["exec", "-u", "user:wheel", &id, "true"],
        "no group \"wheel\"",
    );
    env.fails(
        &["exec", "--cap", "CAP_NOPE", &id, "true"],
        "unknown capability",
    );
    env.fails(&["exec", &env.id("missing"), "true"], "does not exist");
    assert!(env.brig(&["pause", &id]).status.success());
    env.fails(&["exec", &id, "true"], "paused");
    assert!(env.brig(&["resume", &id]).status.success());
    assert_eq!(env.status(&id), "running");
    let pids: Vec<i32> =
        serde_json::from_slice(&env.brig(&["ps", "--format", "json", &id]).stdout).unwrap();
    assert_eq!(
        pids.len(),
        1,
        "no failed exec left a process behind: {pids:?}"
    );
    assert!(env.brig(&["kill", &id, "KILL"]).status.success());
    wait_until("stopped", || env.status(&id) == "stopped");
    env.fails(&["exec", &id, "true"], "container not running");
    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn exec_preserve_fds_console_socket_and_apparmor() {
    use std::os::unix::process::CommandExt;
    let env = Env::new("execmore");
    let (id, _) = running(&env, "c");
    // --preserve-fds: fd 3 reaches the process, nothing above it does.
    let data = env.dir.join("fd3");
    std::fs::write(&data, "via fd 3\n").unwrap();
    let f3 = std::fs::File::open(&data).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f3);
    let out_path = env.dir.join("out");
    let mut cmd = env.cmd();
    cmd.args([
        "exec",
        "--preserve-fds",
        "1",
        &id,
        "sh",
        "-c",
        "cat <&3; ls /proc/self/fd | wc -l",
    ])
    .stdout(std::fs::File::create(&out_path).unwrap());
    // SAFETY: only dup2/fcntl between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::dup2(raw, 100);
            libc::dup2(100, 3);
            libc::fcntl(3, libc::F_SETFD, 0);
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    let out = std::fs::read_to_string(&out_path).unwrap();
    // 0-2, 3, and ls's own directory fd.
    assert_eq!(out.lines().collect::<Vec<_>>(), ["via fd 3", "5"], "{out}");

    // --tty with --console-socket: the master arrives over the socket.
    let sock = env.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // The master is kept (in the thread's result) until brig returns: closing it would hang up the process.
    let waiter = std::thread::spawn(move || accept_fd(&listener).1);
    let out = env.brig(&[
        "exec",
        "-t",
        "--console-socket",
        &path_str(&sock),
        &id,
        "true",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        waiter.join().unwrap().is_some(),
        "the pty master came over the console socket"
    );

    // --apparmor: applied where the host has AppArmor ("unconfined" always exists there), ignored where it has
    // none (as runc); a profile that is not loaded is refused where it would apply.
    let out = env.brig(&[
        "exec",
        "--apparmor",
        "unconfined",
        &id,
        "sh",
        "-c",
        "cat /proc/self/attr/current 2>/dev/null; true",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    if apparmor {
        assert!(
            text(&out.stdout).contains("unconfined"),
            "{}",
            text(&out.stdout)
        );
        env.fails(
            &["exec", "--apparmor", "brig-no-such-profile", &id, "true"],
            "process.apparmorProfile",
        );
    } else {
        assert!(env
            .brig(&["exec", "--apparmor", "brig-no-such-profile", &id, "true"])
            .status
            .success());
    }

    // A process file without args is refused.
    let bad = env.dir.join("noargs.json");
    std::fs::write(&bad, r#"{"user": {"uid": 0, "gid": 0}, "cwd": "/"}"#).unwrap();
    env.fails(
        &["exec", "--process", &path_str(&bad), &id],
        "args must name a program",
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
}
