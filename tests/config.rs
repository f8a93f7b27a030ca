//! Each config.json area, checked by what the process inside the container really sees.
mod common;
use common::*;
use serde_json::json;

fn push_mount(v: &mut serde_json::Value, m: serde_json::Value) {
    v["mounts"].as_array_mut().unwrap().push(m);
}

#[test]
fn process_env_cwd_user_groups_umask() {
    let env = Env::new("process");
    env.config_sh(
        "echo env=$FOO; pwd; id -u; id -g; id -G; umask; echo home=$HOME",
        |v| {
            v["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
            v["process"]["cwd"] = json!("/home/user");
            v["process"]["user"] =
                json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 65534], "umask": 63});
        },
    );
    let out = env.run_ok(&env.id("c"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "env=bar baz",
            "/home/user",
            "1000",
            "1000",
            "1000 5 65534",
            "0077",
            "home=/home/user"
        ],
        "{out}"
    );
}

#[test]
fn capabilities_and_no_new_privileges() {
    let env = Env::new("caps");
    env.config_sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status", |v| {
        let set = json!(["CAP_CHOWN", "CAP_KILL"]);
        v["process"]["capabilities"] = json!({
            "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": ["CAP_KILL"]
        });
        v["process"]["noNewPrivileges"] = json!(true);
    });
    let out = env.run_ok(&env.id("c"));
    // CAP_CHOWN = bit 0, CAP_KILL = bit 5.
    for key in ["CapInh", "CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(field(&out, key), "0000000000000021", "{key}\n{out}");
    }
    assert_eq!(field(&out, "CapAmb"), "0000000000000020");
    assert_eq!(field(&out, "NoNewPrivs"), "1");

    env.config_sh("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status", |v| {
        v["process"].as_object_mut().unwrap().remove("capabilities");
        v["process"]["noNewPrivileges"] = json!(false);
    });
    let out = env.run_ok(&env.id("none"));
    assert_eq!(
        field(&out, "CapEff"),
        "0000000000000000",
        "no capabilities field means none"
    );
    assert_eq!(field(&out, "NoNewPrivs"), "0");
}

#[test]
fn rlimits_and_oom_score_adj() {
    let env = Env::new("rlimits");
    env.config_sh(
        "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj",
        |v| {
            v["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
            ]);
            v["process"]["oomScoreAdj"] = json!(321);
        },
    );
    let out = env.run_ok(&env.id("c"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["123", "456", "0", "321"],
        "{out}"
    );
}

#[test]
fn hostname_domainname_and_namespaces() {
    let env = Env::new("ns");
    env.config_sh(
        "hostname; cat /proc/sys/kernel/domainname; echo pid=$$; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '",
        |v| {
            v["hostname"] = json!("box1");
            v["domainname"] = json!("example.org");
        },
    );
    let out = env.run_ok(&env.id("c"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["box1", "example.org", "pid=1", "lo"],
        "{out}"
    );
}

#[test]
fn joining_a_namespace_by_path() {
    let env = Env::new("joinns");
    env.config_sh("sleep 100", |_| {});
    let first = env.id("first");
    env.run_detached(&first);
    let pid = env.state(&first)["pid"].as_i64().unwrap();
    let host_view = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let uts_view = std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap();
    env.config_sh(
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname",
        |v| {
            v["hostname"] = serde_json::Value::Null;
            v["linux"]["namespaces"] = json!([
                {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
                {"type": "network", "path": format!("/proc/{pid}/ns/net")},
                {"type": "uts", "path": format!("/proc/{pid}/ns/uts")}
            ]);
        },
    );
    let out = env.run_ok(&env.id("second"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], host_view.to_string_lossy());
    assert_eq!(lines[1], uts_view.to_string_lossy());
    assert_eq!(
        lines[2], "brig",
        "the joined uts namespace keeps the first container's hostname"
    );
    // brig itself went back to its own namespaces: a fresh container still gets its own network.
    assert_ne!(std::fs::read_link("/proc/self/ns/net").unwrap(), host_view);
}

#[test]
fn user_namespace_with_mappings() {
    let env = Env::new("userns");
    env.config_sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/x && stat -c %u /tmp/x", |v| {
        v["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        push_mount(v, json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}));
    });
    let out = env.run_ok(&env.id("c"));
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "100000", "65536", "0", "100000", "65536", "0", "0"],
        "{out}"
    );
}

#[test]
fn readonly_root_and_writable_root() {
    let env = Env::new("roroot");
    env.config_sh("touch /rootfs-write 2>&1; echo rc=$?", |_| {});
    let out = env.run_ok(&env.id("ro"));
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
}

#[test]
fn mounts_tmpfs_bind_ro_bind_and_propagation() {
    let env = Env::new("mounts");
    let host = env.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("from-host"), "hello").unwrap();
    let ro = env.dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let file = env.dir.join("single-file");
    std::fs::write(&file, "one file").unwrap();
    env.config_sh(
        "cat /data/from-host; echo; echo written > /data/from-container; touch /ro/x 2>&1; cat /etc/single; echo; \
         grep -E ' /scratch | /data ' /proc/self/mountinfo",
        |v| {
            push_mount(v, json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "size=1m", "mode=700"]}));
            push_mount(v, json!({"destination": "/data", "type": "bind", "source": host.to_string_lossy(),
                "options": ["rbind", "rw", "rprivate"]}));
            push_mount(v, json!({"destination": "/ro", "type": "bind", "source": ro.to_string_lossy(),
                "options": ["bind", "ro"]}));
            push_mount(v, json!({"destination": "/etc/single", "type": "bind", "source": file.to_string_lossy(),
                "options": ["bind", "ro"]}));
        },
    );
    let out = env.run_ok(&env.id("c"));
    assert!(out.starts_with("hello\n"), "{out}");
    assert!(
        out.contains("Read-only file system"),
        "ro bind must refuse writes: {out}"
    );
    assert!(out.contains("one file"), "{out}");
    let scratch = out
        .lines()
        .find(|l| l.contains(" /scratch "))
        .expect("tmpfs mounted");
    assert!(
        scratch.contains("nosuid") && scratch.contains("nodev") && scratch.contains("size=1024k"),
        "{scratch}"
    );
    assert!(scratch.contains("mode=700"), "{scratch}");
    assert_eq!(
        std::fs::read_to_string(host.join("from-container")).unwrap(),
        "written\n"
    );
    // Nothing of the container's mounts shows on the host.
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !host_mounts.contains(&env.name),
        "container mounts leaked to the host"
    );
}

#[test]
fn mount_destination_symlink_cannot_escape_rootfs() {
    let env = Env::new("escape");
    // A rootfs of our own whose /evil points at the host's /etc.
    let rootfs = env.dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    for d in ["bin", "proc", "dev", "sys", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(rootfs_bin(), rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/ls")).unwrap();
    std::os::unix::fs::symlink("/etc", rootfs.join("evil")).unwrap();
    let mut v = env.base_config();
    v["root"]["path"] = json!(rootfs.to_string_lossy());
    v["root"]["readonly"] = json!(false);
    v["process"]["args"] = json!(["sh", "-c", "ls /etc/"]);
    push_mount(
        &mut v,
        json!({"destination": "/evil/brig-escape-test", "type": "tmpfs", "source": "tmpfs"}),
    );
    env.write_config(&v);
    let out = env.run_ok(&env.id("c"));
    assert!(
        out.contains("brig-escape-test"),
        "mount must land inside the rootfs: {out}"
    );
    assert!(
        !std::path::Path::new("/etc/brig-escape-test").exists(),
        "mount escaped to the host"
    );
}

fn rootfs_bin() -> std::path::PathBuf {
    rootfs().join("bin/busybox")
}

#[test]
fn masked_and_readonly_paths_and_sysctl() {
    let env = Env::new("masked");
    env.config_sh(
        "wc -c < /etc/motd; ls /home | wc -l; touch /home/x 2>&1; (echo 1 > /proc/sys/kernel/shmmax) 2>&1; \
         cat /proc/sys/net/ipv4/ip_forward",
        |v| {
            v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            // A file and a directory of the rootfs, so the result does not depend on the host's /proc.
            v["linux"]["maskedPaths"].as_array_mut().unwrap().extend([json!("/etc/motd"), json!("/home"), json!("/nonexistent")]);
        },
    );
    let out = env.run_ok(&env.id("c"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "0", "masked file reads empty: {out}");
    assert_eq!(lines[1].trim(), "0", "masked directory is empty: {out}");
    assert!(
        lines[2].contains("Read-only file system"),
        "masked directory is read-only: {out}"
    );
    assert!(
        lines[3].contains("Read-only file system"),
        "/proc/sys read-only: {out}"
    );
    assert_eq!(lines[4], "1", "sysctl applied: {out}");
}

#[test]
fn devices_default_and_configured() {
    let env = Env::new("devices");
    env.config_sh("ls -l /dev/null /dev/zero /dev/fuse /dev/tty; readlink /dev/ptmx; readlink /dev/fd; head -c 4 /dev/zero | wc -c", |v| {
        v["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
            "fileMode": 432, "uid": 0, "gid": 0}]);
    });
    let out = env.run_ok(&env.id("c"));
    assert!(
        out.lines().any(|l| l.starts_with("crw-rw-rw-")
            && l.contains("1,   3")
            && l.ends_with("/dev/null")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("crw-rw----")
            && l.contains("10, 229")
            && l.ends_with("/dev/fuse")),
        "{out}"
    );
    assert!(
        out.contains("pts/ptmx") && out.contains("/proc/self/fd"),
        "{out}"
    );
    assert!(out.trim_end().ends_with('4'), "{out}");
}

#[test]
fn no_pivot_runs_too() {
    let env = Env::new("nopivot");
    env.config_sh("cat /etc/motd", |_| {});
    let id = env.id("c");
    let out = env.brig(&["run", "--no-pivot", "--bundle", &path_str(&env.bundle), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "brig busybox rootfs\n");
}

#[test]
fn preserve_fds_passes_exactly_those() {
    use std::os::unix::process::CommandExt;
    let env = Env::new("fds");
    env.config_sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3", |_| {});
    let id = env.id("c");
    let data = env.dir.join("fd3");
    std::fs::write(&data, "via fd 3").unwrap();
    let f3 = std::fs::File::open(&data).unwrap();
    let f4 = std::fs::File::open(&data).unwrap();
    let (raw3, raw4) = (
        std::os::fd::AsRawFd::as_raw_fd(&f3),
        std::os::fd::AsRawFd::as_raw_fd(&f4),
    );
    let out_path = env.dir.join("out");
    let mut cmd = env.cmd();
    cmd.args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        &path_str(&env.bundle),
        &id,
    ])
    .stdout(std::fs::File::create(&out_path).unwrap());
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it explicitly.
            for (from, to) in [(raw3, 3), (raw4, 4)] {
                if from != to {
                    libc::dup2(from, to);
                }
                libc::fcntl(to, libc::F_SETFD, 0);
            }
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    let out = std::fs::read_to_string(&out_path).unwrap();
    // fds 0-2, the preserved 3, and the one ls itself opens (the directory).
    assert!(
        out.starts_with("0 1 2 3 4 ") || out.starts_with("0 1 2 3 "),
        "{out}"
    );
    assert!(out.ends_with("via fd 3"), "{out}");
    let count = out
        .split_whitespace()
        .take_while(|w| w.parse::<i32>().is_ok())
        .count();
    assert_eq!(
        count, 5,
        "exactly stdio, fd 3 and ls's own directory fd: {out}"
    );
}

#[test]
fn cgroup_placement_and_resources() {
    let env = Env::new("cgroup");
    env.config_sh("cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
         cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; (exec 3<>/dev/net/tun) 2>&1; true", |v| {
        v["linux"]["resources"] = json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "pids": {"limit": 42},
            "memory": {"limit": 67108864}
        });
        v["linux"]["devices"] = json!([{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 438}]);
    });
    let id = env.id("c");
    let out = env.run_ok(&id);
    assert!(
        out.lines()
            .any(|l| l.starts_with("8:pids:") && l.ends_with(&format!("/{id}")))
            || out.contains(&format!("/{id}")),
        "{out}"
    );
    assert!(out.contains("\n42\n"), "pids.max seen inside: {out}");
    assert!(out.contains("67108864"), "memory limit seen inside: {out}");
    assert!(
        out.contains("Operation not permitted"),
        "a denied device cannot be opened: {out}"
    );
    env.assert_gone(&id);
}

#[test]
fn relative_root_path_is_relative_to_the_bundle() {
    let env = Env::new("relroot");
    std::os::unix::fs::symlink(rootfs(), env.bundle.join("rootfs")).unwrap();
    let mut v = env.base_config();
    v["root"]["path"] = json!("rootfs");
    v["process"]["args"] = json!(["cat", "/etc/motd"]);
    env.write_config(&v);
    // Run from another directory: the bundle, not the cwd, anchors root.path.
    let out = env
        .cmd()
        .current_dir("/")
        .args(["run", "--bundle", &path_str(&env.bundle), &env.id("c")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "brig busybox rootfs\n");
}

#[test]
fn cgroup_and_time_namespaces() {
    let env = Env::new("cgroupns");
    env.config_sh(
        "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
         readlink /proc/self/ns/time",
        |v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .extend([json!({"type": "cgroup"}), json!({"type": "time"})]);
            v["linux"]["resources"] = json!({"pids": {"limit": 77}});
        },
    );
    let out = env.run_ok(&env.id("c"));
    let cgroup_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(':'))
        .filter(|l| !l.starts_with("time:"))
        .collect();
    assert!(!cgroup_lines.is_empty());
    for l in &cgroup_lines {
        assert!(
            l.ends_with(":/"),
            "the container's cgroup is its root: {l}\n{out}"
        );
    }
    assert!(
        out.lines().any(|l| l == "77"),
        "the cgroup mount shows the container's own hierarchy: {out}"
    );
    let host_time = std::fs::read_link("/proc/self/ns/time").unwrap();
    let theirs = out.lines().last().unwrap();
    assert!(
        theirs.starts_with("time:[") && theirs != host_time.to_string_lossy(),
        "{out}"
    );
}

#[test]
fn tmpcopyup_starts_with_the_directory_contents() {
    let env = Env::new("copyup");
    env.config_sh("cat /etc/motd; echo new > /etc/extra; cat /etc/extra; grep -c ' /etc ' /proc/self/mountinfo", |v| {
        push_mount(v, json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    });
    let out = env.run_ok(&env.id("c"));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["brig busybox rootfs", "new", "1"],
        "{out}"
    );
    assert!(
        !rootfs().join("etc/extra").exists(),
        "writes went to the tmpfs, not the rootfs"
    );
}

#[test]
fn init_is_not_dumpable_before_exec() {
    // While created, the init is still the brig binary: its /proc/PID/exe must stay out of reach of the
    // container's own kind of process (root without CAP_SYS_PTRACE), as after CVE-2019-5736.
    let env = Env::new("dumpable");
    env.config_sh("sleep 100", |v| {
        v["process"].as_object_mut().unwrap().remove("capabilities");
    });
    let id = env.id("c");
    env.create_ok(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // Root with an empty bounding set: no CAP_SYS_PTRACE, and no more capabilities than the init has.
    let probe = |pid: i64| {
        std::process::Command::new("setpriv")
            .args([
                "--bounding-set=-all",
                "--inh-caps=-all",
                "readlink",
                &format!("/proc/{pid}/exe"),
            ])
            .output()
            .unwrap()
    };
    let out = probe(pid);
    assert!(
        !out.status.success(),
        "the created init's exe is reachable: {}",
        text(&out.stdout)
    );
    // After exec the container's program is an ordinary (dumpable) process again.
    assert!(env.brig(&["start", &id]).status.success());
    wait_until("exec", || {
        text(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).contains("sleep")
    });
    let out = probe(pid);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("sleep") || text(&out.stdout).contains("busybox"),
        "{}",
        text(&out.stdout)
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
}

#[test]
fn systemd_listen_fds_are_passed_like_runc() {
    use std::os::unix::process::CommandExt;
    let env = Env::new("listenfds");
    env.config_sh("echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4", |_| {});
    let (a, b) = (env.dir.join("a"), env.dir.join("b"));
    std::fs::write(&a, "socket-a ").unwrap();
    std::fs::write(&b, "preserved-b").unwrap();
    let fa = std::fs::File::open(&a).unwrap();
    let fb = std::fs::File::open(&b).unwrap();
    let (ra, rb) = (
        std::os::fd::AsRawFd::as_raw_fd(&fa),
        std::os::fd::AsRawFd::as_raw_fd(&fb),
    );
    let out_path = env.dir.join("out");
    let mut cmd = env.cmd();
    cmd.env("LISTEN_FDS", "1")
        .args([
            "run",
            "--preserve-fds",
            "1",
            "--bundle",
            &path_str(&env.bundle),
            &env.id("c"),
        ])
        .stdout(std::fs::File::create(&out_path).unwrap());
    // SAFETY: only dup2/fcntl between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Through high numbers first so neither source is overwritten before it is copied.
            libc::dup2(ra, 100);
            libc::dup2(rb, 101);
            libc::dup2(100, 3);
            libc::dup2(101, 4);
            libc::fcntl(3, libc::F_SETFD, 0);
            libc::fcntl(4, libc::F_SETFD, 0);
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    let out = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(
        out, "1 1\nsocket-a preserved-b",
        "LISTEN_FDS first, then --preserve-fds"
    );
}
