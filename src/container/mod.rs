//! The Container type and its state store: `<root>/<id>/state.json` (written atomically), `exec.fifo` while
//! the container is created, and an exclusive `flock` on the container directory that serializes verbs.

pub mod lifecycle;
pub mod logfile;
pub mod monitor;
pub mod status;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
pub use status::{Op, Status};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
pub const CONFIG_COPY: &str = "config.json";
/// The OCI runtime-spec version brig implements, reported in `state`, `features` and `--version`.
pub const OCI_VERSION: &str = "1.2.0";
const MAX_ID_LEN: usize = 255;

/// What brig records about a container. The OCI fields are printed by `state`; the rest is brig's own.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (/proc/PID/stat field 22): a recycled pid has another.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Where the container's cgroup is, when brig made one.
    #[serde(default)]
    pub cgroup: Option<crate::cgroups::CgroupPlace>,
    /// Whether the container has its own pid namespace (then killing the init ends every process in it).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// Whether the container runs on a private overlay layer over `rootfs` (`--overlay`), mounted at
    /// `<state dir>/rootfs` by create and unmounted by delete.
    #[serde(default)]
    pub overlay: bool,
}

/// The OCI state as runc prints it (`annotations` left out when empty, `owner` empty for root).
#[derive(Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
    pub owner: &'static str,
}

impl State {
    pub fn oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status: status.as_str(),
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: "",
        }
    }
}

/// Container ids become directory and cgroup names: `[A-Za-z0-9][A-Za-z0-9_.+-]*`, at most 255 bytes.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why: &str| anyhow::anyhow!("invalid container id {:?}: {why}", truncate(id, 64));
    if id.is_empty() {
        return Err(bad("it is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(bad("longer than 255 bytes"));
    }
    let mut chars = id.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Err(bad("it must start with a letter or digit"));
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')) {
        return Err(bad("only letters, digits and _ . + - are allowed"));
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// A container whose directory is locked by this process for the lifetime of the value.
pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    _lock: File,
}

impl Container {
    /// Load and lock an existing container. A missing one gives "container ID does not exist" (podman and
    /// containerd match "does not exist").
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = root.join(id);
        let lock = lock_dir(&dir).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => anyhow::anyhow!("container {id} does not exist"),
            _ => anyhow::anyhow!("container {id}: cannot lock {}: {e}", dir.display()),
        })?;
        let state = read_state(&dir).with_context(|| format!("container {id}"))?;
        Ok(Container {
            dir,
            state,
            _lock: lock,
        })
    }

    /// The status, derived from the recorded pid and its start time, the exec fifo and the freezer.
    pub fn status(&self) -> Status {
        derive_status(&self.dir, &self.state)
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }
}

/// When a started container was started: `start` unlinks exec.fifo, and nothing else adds or removes an entry
/// of the state directory while the container runs, so the directory's mtime is that moment (no write needed).
pub fn started_at(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

pub fn derive_status(dir: &Path, state: &State) -> Status {
    if !process_alive(state.pid, state.pid_start_time) {
        return Status::Stopped;
    }
    if dir.join(EXEC_FIFO).exists() {
        return Status::Created;
    }
    if let Some(cg) = &state.cgroup {
        if crate::cgroups::is_frozen(cg) {
            return Status::Paused;
        }
    }
    Status::Running
}

pub fn read_state(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is corrupt", path.display()))
}

pub fn write_state(dir: &Path, state: &State) -> Result<()> {
    let json = serde_json::to_vec(state)?;
    write_atomic(&dir.join(STATE_FILE), &json, 0o600)
}

/// Write by temp file + rename so readers never see half a file.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_atomic_with(path, mode, |f| Ok(f.write_all(data)?))
}

/// `write_atomic` for content that is streamed: `fill` writes the temporary file, which then replaces `path`.
/// On any error the temporary file is removed and `path` is untouched.
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> Result<()>,
) -> Result<()> {
    let name = path.file_name().context("atomic write needs a file name")?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        fill(&mut f)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        bail!("cannot write {}: {e:#}", path.display());
    }
    Ok(())
}

fn lock_dir(dir: &Path) -> std::io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)?;
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

/// A new container directory, locked, removed again on drop unless `keep` is called: a failed create leaves
/// nothing behind.
pub struct NewContainerDir {
    pub dir: PathBuf,
    lock: Option<File>,
    keep: bool,
}

impl NewContainerDir {
    pub fn create(root: &Path, id: &str) -> Result<NewContainerDir> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("cannot create state root {}", root.display()))?;
        let dir = root.join(id);
        // 0711: the container's own user must reach exec.fifo after dropping privileges.
        if let Err(e) = std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                bail!("container with id {id} already exists");
            }
            bail!("cannot create {}: {e}", dir.display());
        }
        let mut guard = NewContainerDir {
            dir,
            lock: None,
            keep: false,
        };
        guard.lock = Some(
            lock_dir(&guard.dir).with_context(|| format!("cannot lock {}", guard.dir.display()))?,
        );
        Ok(guard)
    }

    /// The directory stays; the lock is released when the returned file is dropped.
    pub fn keep(mut self) -> File {
        self.keep = true;
        self.lock.take().expect("lock is held until keep")
    }
}

impl Drop for NewContainerDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Remove a container's directory (after its processes and cgroup are gone).
pub fn remove_dir(dir: &Path) -> Result<()> {
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
}

/// Is `pid` the process that was started at `start_time`, and not a zombie?
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((state, start)) => start == start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

/// (state letter, start time) from /proc/PID/stat. Hand-parsed because it is on the hot path of `state` and
/// `list`: the command name may hold spaces and parentheses, so fields are counted after the last ')'.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // field 3 is the state; the start time is field 22, i.e. 19 fields further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// A new container id like docker's short ids: 12 random hex digits, not in use under `root`.
pub fn generate_id(root: &Path) -> Result<String> {
    for _ in 0..16 {
        let mut bytes = [0u8; 6];
        // SAFETY: getrandom(2) into a local buffer of the given length.
        let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
        if n != bytes.len() as isize {
            bail!(
                "cannot generate a container id: {}",
                std::io::Error::last_os_error()
            );
        }
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !root.join(&id).exists() {
            return Ok(id);
        }
    }
    bail!(
        "cannot generate an unused container id under {}",
        root.display()
    )
}

/// Every container id under the root, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("cannot read state root {}: {e}", root.display()),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "web-1", "A.b_c+d", "0abc", &"x".repeat(255)] {
            validate_id(ok).unwrap();
        }
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "a\0b",
            "é",
            &"x".repeat(256),
            "..",
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn stat_parsing_survives_odd_names() {
        let line =
            "123 (a) b (c)) S 1 123 123 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_alive_and_recycled_pid_is_not() {
        let me = std::process::id() as i32;
        let (_, start) = proc_stat(me).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
        assert!(!process_alive(0, 0));
    }

    #[test]
    fn state_round_trip_and_oci_shape() {
        let s = State {
            id: "c1".into(),
            pid: 42,
            pid_start_time: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            annotations: HashMap::new(),
            cgroup: None,
            own_pid_ns: true,
            overlay: false,
        };
        let v = serde_json::to_value(s.oci(Status::Stopped)).unwrap();
        assert_eq!(v["pid"], 0);
        assert_eq!(v["status"], "stopped");
        assert!(v.get("annotations").is_none());
        assert_eq!(v["owner"], "");
        let v = serde_json::to_value(s.oci(Status::Running)).unwrap();
        assert_eq!(v["pid"], 42);
    }
}
