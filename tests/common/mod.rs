//! Shared by the integration tests: each test gets its own state root, bundle directory and container ids,
//! and a guard that force-deletes every container and removes both directories even when the test fails.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

pub const BRIG: &str = env!("CARGO_BIN_EXE_brig");
static COUNTER: AtomicUsize = AtomicUsize::new(0);
static ROOTFS: Once = Once::new();

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn rootfs() -> PathBuf {
    ROOTFS.call_once(|| {
        let status = Command::new(repo().join("bundles/build-rootfs.sh"))
            .status()
            .expect("run build-rootfs.sh");
        assert!(status.success(), "bundles/build-rootfs.sh failed");
    });
    repo().join("bundles/busybox/rootfs")
}

/// One test's world. Dropping it deletes every container under its root and removes its directories.
pub struct Env {
    pub name: String,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub dir: PathBuf,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}-{n}-{name}", std::process::id());
        let dir = std::env::temp_dir().join(format!("brig-test-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bundle")).unwrap();
        let env = Env {
            root: dir.join("root"),
            bundle: dir.join("bundle"),
            dir,
            name,
        };
        env.write_config(&env.base_config());
        env
    }

    /// A unique container id for this test.
    pub fn id(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// bundles/busybox/config.json with an absolute rootfs path and a harmless default command.
    pub fn base_config(&self) -> Value {
        let text = std::fs::read_to_string(repo().join("bundles/busybox/config.json")).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["root"]["path"] = rootfs().to_string_lossy().into_owned().into();
        v["process"]["args"] = serde_json::json!(["true"]);
        v
    }

    pub fn write_config(&self, v: &Value) {
        std::fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// Set process.args to `sh -c SCRIPT`.
    pub fn config_sh(&self, script: &str, edit: impl FnOnce(&mut Value)) {
        let mut v = self.base_config();
        v["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        edit(&mut v);
        self.write_config(&v);
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BRIG);
        c.arg("--root").arg(&self.root);
        c.stdin(Stdio::null());
        c
    }

    /// Run brig with stdout/stderr in files: a created container keeps brig's stdio open, so pipes
    /// would never reach EOF.
    pub fn brig(&self, args: &[&str]) -> Output {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let (o, e) = (
            self.dir.join(format!("out.{n}")),
            self.dir.join(format!("err.{n}")),
        );
        let status = self
            .cmd()
            .args(args)
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        }
    }

    /// Foreground `run` of the bundle; returns (exit code, stdout, stderr).
    pub fn run(&self, id: &str) -> (i32, String, String) {
        let b = self.bundle.to_string_lossy().into_owned();
        let out = self.brig(&["run", "--bundle", &b, id]);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// Foreground run that must succeed; returns stdout.
    pub fn run_ok(&self, id: &str) -> String {
        let (code, out, err) = self.run(id);
        assert_eq!(code, 0, "run failed: stdout={out} stderr={err}");
        out
    }

    /// Run brig, expect exit status 1 and `needle` in its stderr.
    pub fn fails(&self, args: &[&str], needle: &str) -> Output {
        let out = self.brig(args);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "brig {args:?} should fail: {err}"
        );
        assert!(
            err.contains(needle),
            "brig {args:?}: {err:?} should mention {needle:?}"
        );
        out
    }

    pub fn create(&self, id: &str) -> Output {
        let b = self.bundle.to_string_lossy().into_owned();
        self.brig(&["create", "--bundle", &b, id])
    }

    /// `run -d` of the bundle, which must succeed.
    pub fn run_detached(&self, id: &str) {
        let out = self.brig(&["run", "-d", "--bundle", &path_str(&self.bundle), id]);
        assert!(out.status.success(), "run -d failed: {}", text(&out.stderr));
    }

    pub fn create_ok(&self, id: &str) {
        let out = self.create(id);
        assert!(out.status.success(), "create failed: {}", text(&out.stderr));
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.brig(&["state", id]);
        assert!(out.status.success(), "state failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Nothing of container `id` is left: no state dir, no cgroup directory anywhere.
    pub fn assert_gone(&self, id: &str) {
        assert!(
            !self.root.join(id).exists(),
            "state dir of {id} left behind"
        );
        let left = cgroup_dirs_named(id);
        assert!(left.is_empty(), "cgroup dirs of {id} left behind: {left:?}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self
                    .cmd()
                    .args(["delete", "--force", &id])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every directory called `name` below /sys/fs/cgroup (containers' cgroups are named after their ids here).
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && !ft.is_symlink() {
                if e.file_name() == name {
                    found.push(e.path());
                }
                stack.push(e.path());
            }
        }
    }
    found
}

/// A line of /proc/self/status-style output: `key:\tvalue`.
pub fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim())
        .unwrap_or_else(|| panic!("no {key} in output:\n{out}"))
}

pub fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next())
                .unwrap_or(None);
            state != Some('Z')
        })
        .unwrap_or(false)
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Accept one connection on `listener` and receive one message: its bytes and the descriptor sent with it
/// (SCM_RIGHTS), as brig sends a pty master or a seccomp notify fd.
pub fn accept_fd(
    listener: &std::os::unix::net::UnixListener,
) -> (Vec<u8>, Option<std::os::fd::OwnedFd>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let (stream, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 65536];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the descriptor was just received and is ours.
            fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    (buf, fd)
}
