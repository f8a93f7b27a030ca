//! `commit`: a container's filesystem as an image archive that `podman load` and `docker load` accept.
//! With an overlay layer the image has two layers, the bundle's rootfs and the container's changes (overlayfs
//! whiteouts turned into OCI `.wh.` files); without one, the whole rootfs is one layer. The image config carries
//! the container's args, env, cwd and user. The archive is written to a temporary file next to the target and
//! renamed into place, so a failed commit leaves nothing behind.

use crate::cli::ImageFormat;
use anyhow::{bail, Context, Result};
use nix::fcntl::AtFlags;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstatat, FileStat, Mode};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct CommitOptions<'a> {
    pub format: ImageFormat,
    /// `name:tag`, checked by `image_reference`.
    pub reference: String,
    pub message: Option<&'a str>,
    pub output: &'a Path,
    pub force: bool,
}

/// One layer to write: a directory tree, and whether it is an overlayfs upper directory.
pub struct LayerSource {
    pub dir: PathBuf,
    pub overlay_upper: bool,
    pub created_by: String,
}

/// A layer or config blob written to a temporary file, with its digest.
struct Blob {
    file: File,
    path: PathBuf,
    digest: String,
    size: u64,
}

impl Drop for Blob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `name[:tag]` made into a reference docker and podman take: lower-case name, `latest` when no tag.
pub fn image_reference(text: &str) -> Result<String> {
    let (name, tag) = match text.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (text, "latest"),
    };
    // A registry host may carry a port (`localhost:5000/web`); path components are lower-case.
    let path = match name.split_once('/') {
        Some((host, rest)) if host.contains(':') => {
            let (h, port) = host.split_once(':').unwrap_or((host, ""));
            if h.is_empty() || port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
                bail!("--tag {text:?}: expected a lower-case image name with an optional :tag");
            }
            rest
        }
        _ => name,
    };
    let name_ok = !path.is_empty()
        && path.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c));
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !name_ok || !tag_ok {
        bail!("--tag {text:?}: expected a lower-case image name with an optional :tag");
    }
    Ok(format!("{name}:{tag}"))
}

/// The default image name for a container: its id, lower-cased, with characters image names forbid replaced.
pub fn default_reference(id: &str) -> String {
    let name: String = id
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{name}:latest")
}

/// The image config's `config` part from the container's process, with `--change` instructions applied.
pub fn image_config(spec: &Spec, changes: &[String]) -> Result<Value> {
    let mut cfg = json!({});
    if let Some(p) = spec.process() {
        cfg["Cmd"] = json!(p.args().clone().unwrap_or_default());
        cfg["Env"] = json!(p.env().clone().unwrap_or_default());
        cfg["WorkingDir"] = json!(p.cwd());
        cfg["User"] = json!(format!("{}:{}", p.user().uid(), p.user().gid()));
    }
    for change in changes {
        apply_change(&mut cfg, change)?;
    }
    Ok(cfg)
}

/// One `--change`: `INSTRUCTION=VALUE` or, as docker writes it, `INSTRUCTION VALUE`.
fn apply_change(cfg: &mut Value, change: &str) -> Result<()> {
    let split = change.find(['=', ' ']).with_context(|| {
        format!("--change {change:?}: expected INSTRUCTION=VALUE, e.g. CMD=[\"sh\"]")
    })?;
    let (instr, value) = (
        change[..split].to_ascii_uppercase(),
        change[split + 1..].trim(),
    );
    let bad = |why: &str| anyhow::anyhow!("--change {change:?}: {why}");
    let command = |v: &str| -> Result<Value> {
        if v.starts_with('[') {
            let list: Vec<String> =
                serde_json::from_str(v).map_err(|_| bad("expected a JSON list of strings"))?;
            Ok(json!(list))
        } else {
            Ok(json!(["/bin/sh", "-c", v]))
        }
    };
    let key_value = |v: &str| -> Result<(String, String)> {
        let (k, val) = v
            .split_once('=')
            .or_else(|| v.split_once(' '))
            .ok_or_else(|| bad("expected KEY=VALUE"))?;
        if k.is_empty() {
            return Err(bad("expected KEY=VALUE"));
        }
        Ok((k.to_string(), val.to_string()))
    };
    match instr.as_str() {
        "CMD" => cfg["Cmd"] = command(value)?,
        "ENTRYPOINT" => cfg["Entrypoint"] = command(value)?,
        "ENV" => {
            let (k, v) = key_value(value)?;
            let mut env: Vec<String> = serde_json::from_value(cfg["Env"].take()).unwrap_or_default();
            env.retain(|e| !e.starts_with(&format!("{k}=")));
            env.push(format!("{k}={v}"));
            cfg["Env"] = json!(env);
        }
        "LABEL" => {
            let (k, v) = key_value(value)?;
            if !cfg["Labels"].is_object() {
                cfg["Labels"] = json!({});
            }
            cfg["Labels"][k] = json!(v);
        }
        "WORKDIR" if value.starts_with('/') => cfg["WorkingDir"] = json!(value),
        "WORKDIR" => return Err(bad("the directory must be absolute")),
        "USER" if !value.is_empty() => cfg["User"] = json!(value),
        "EXPOSE" => {
            let port = if value.contains('/') { value.to_string() } else { format!("{value}/tcp") };
            if !cfg["ExposedPorts"].is_object() {
                cfg["ExposedPorts"] = json!({});
            }
            cfg["ExposedPorts"][port] = json!({});
        }
        "STOPSIGNAL" if !value.is_empty() => cfg["StopSignal"] = json!(value),
        _ => {
            return Err(bad(
                "supported instructions are CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL",
            ))
        }
    }
    Ok(())
}

/// Refuse an existing target unless --force, before anything is read or written.
pub fn check_target(opts: &CommitOptions) -> Result<()> {
    if opts.output.symlink_metadata().is_ok() && !opts.force {
        bail!(
            "{} exists: choose another file or pass --force to overwrite it",
            opts.output.display()
        );
    }
    if opts.output.is_dir() {
        bail!("{} is a directory", opts.output.display());
    }
    Ok(())
}

/// Write the layers as tar blobs in the target's directory (the container must not change meanwhile: the
/// caller pauses it), returning them in order.
fn write_layers(layers: &[LayerSource], tmp_dir: &Path) -> Result<Vec<Blob>> {
    let mut blobs = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let mut blob = temp_blob(tmp_dir, &format!("layer{i}"))?;
        let mut w = HashingWriter::new(&mut blob.file);
        {
            let mut tar = tar::Builder::new(&mut w);
            append_tree(&mut tar, &l.dir, l.overlay_upper)
                .with_context(|| format!("cannot archive {}", l.dir.display()))?;
            tar.finish()?;
        }
        let (digest, size) = w.finish();
        blob.digest = digest;
        blob.size = size;
        blobs.push(blob);
    }
    Ok(blobs)
}

/// Build the archive from `layers` (read while the caller keeps the container still) and `config_part`, the
/// image config's `config` (from `image_config`).
pub fn commit(
    layers: &[LayerSource],
    config_part: Value,
    id: &str,
    opts: &CommitOptions,
) -> Result<()> {
    let out_dir = match opts.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let blobs = write_layers(layers, &out_dir)?;
    let now = crate::container::now_rfc3339();
    let history: Vec<Value> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut h = json!({"created": now, "created_by": l.created_by});
            if i + 1 == layers.len() {
                if let Some(m) = opts.message {
                    h["comment"] = json!(m);
                }
            }
            h
        })
        .collect();
    let config = json!({
        "created": now,
        "architecture": go_arch(),
        "os": "linux",
        "config": config_part,
        "rootfs": {"type": "layers", "diff_ids": blobs.iter().map(|b| &b.digest).collect::<Vec<_>>()},
        "history": history,
        "comment": opts.message.unwrap_or(""),
        "container": id,
    });
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = sha256_hex(&config_bytes);
    let layout = match opts.format {
        ImageFormat::Docker => docker_archive,
        ImageFormat::Oci => oci_archive,
    };
    crate::container::write_atomic_with(opts.output, 0o644, |file| {
        let mut tar = tar::Builder::new(&mut *file);
        layout(
            &mut tar,
            &blobs,
            &config_bytes,
            &config_digest,
            &opts.reference,
        )?;
        tar.finish()?;
        drop(tar);
        Ok(file.sync_all()?)
    })
}

/// `docker save`'s layout: manifest.json, the config as `<digest>.json`, each layer as `<digest>/layer.tar`.
fn docker_archive(
    tar: &mut tar::Builder<&mut File>,
    blobs: &[Blob],
    config: &[u8],
    config_digest: &str,
    reference: &str,
) -> Result<()> {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    let config_name = format!("{}.json", hex(config_digest));
    append_bytes(tar, &config_name, config)?;
    let mut layer_names = Vec::new();
    for b in blobs {
        let name = format!("{}/layer.tar", hex(&b.digest));
        append_blob(tar, &name, b)?;
        layer_names.push(name);
    }
    let manifest = json!([{"Config": config_name, "RepoTags": [reference], "Layers": layer_names}]);
    append_bytes(tar, "manifest.json", &serde_json::to_vec(&manifest)?)
}

/// The OCI image layout: oci-layout, index.json (the reference in `org.opencontainers.image.ref.name`), blobs.
fn oci_archive(
    tar: &mut tar::Builder<&mut File>,
    blobs: &[Blob],
    config: &[u8],
    config_digest: &str,
    reference: &str,
) -> Result<()> {
    let blob_name = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    append_bytes(tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    append_bytes(tar, &blob_name(config_digest), config)?;
    for b in blobs {
        append_blob(tar, &blob_name(&b.digest), b)?;
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": blobs.iter().map(|b| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": b.digest, "size": b.size
        })).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let manifest_digest = sha256_hex(&manifest_bytes);
    append_bytes(tar, &blob_name(&manifest_digest), &manifest_bytes)?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_bytes.len(),
            "annotations": {
                "org.opencontainers.image.ref.name": reference,
                "io.containerd.image.name": reference,
            },
        }],
    });
    append_bytes(tar, "index.json", &serde_json::to_vec(&index)?)
}

fn append_bytes(tar: &mut tar::Builder<&mut File>, name: &str, data: &[u8]) -> Result<()> {
    append_regular(tar, name, data.len() as u64, data)
}

fn append_blob(tar: &mut tar::Builder<&mut File>, name: &str, b: &Blob) -> Result<()> {
    let mut f = &b.file;
    f.rewind()?;
    append_regular(tar, name, b.size, f)
}

/// An archive member (not a layer entry): a plain file, root's, written now.
fn append_regular(
    tar: &mut tar::Builder<&mut File>,
    name: &str,
    size: u64,
    data: impl std::io::Read,
) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(unix_now());
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, data)?;
    Ok(())
}

/// Append the tree under the directory `root` to `tar`, entries named relative to it. The walk goes by file
/// descriptors (`openat` with `O_NOFOLLOW` at every step), so a rootfs whose directories are swapped for
/// symlinks while it is read (a container sharing a bundle) cannot make brig archive anything outside it.
/// In an overlayfs upper directory a 0/0 character device is a deleted file and becomes `.wh.<name>`; a
/// directory marked opaque gets `.wh..wh..opq` (the OCI image spec's whiteouts).
fn append_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    overlay_upper: bool,
) -> Result<()> {
    let dir = nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", root.display()))?;
    append_dir(tar, &dir, Path::new(""), overlay_upper)
}

fn append_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &OwnedFd,
    rel: &Path,
    upper: bool,
) -> Result<()> {
    for name in sorted_names(dir)? {
        let name = name.as_os_str();
        let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let name_rel = rel.join(name);
        let kind = st.st_mode & libc::S_IFMT;
        let mut h = header(&st);
        match kind {
            libc::S_IFCHR if upper && st.st_rdev == 0 => {
                let wh = rel.join(format!(".wh.{}", name.to_string_lossy()));
                whiteout(tar, &mut h, wh)?;
            }
            libc::S_IFDIR => {
                let sub = open_entry(dir, name, &st, OFlag::O_DIRECTORY)?;
                tar.append_data(&mut h, &name_rel, std::io::empty())?;
                if upper && is_opaque(&sub) {
                    whiteout(tar, &mut header(&st), name_rel.join(".wh..wh..opq"))?;
                }
                append_dir(tar, &sub, &name_rel, upper)?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(dir, name)?;
                tar.append_link(&mut h, &name_rel, target)?;
            }
            libc::S_IFREG => {
                let file = File::from(open_entry(dir, name, &st, OFlag::empty())?);
                let size = st.st_size as u64;
                h.set_size(size);
                let exact = ExactReader {
                    inner: file.take(size),
                    left: size,
                };
                tar.append_data(&mut h, &name_rel, exact)
                    .with_context(|| format!("{}", name_rel.display()))?;
            }
            libc::S_IFCHR | libc::S_IFBLK => {
                h.set_device_major(libc::major(st.st_rdev))?;
                h.set_device_minor(libc::minor(st.st_rdev))?;
                tar.append_data(&mut h, &name_rel, std::io::empty())?;
            }
            libc::S_IFIFO => tar.append_data(&mut h, &name_rel, std::io::empty())?,
            // Sockets are not archived (no image format has them).
            _ => {}
        }
    }
    Ok(())
}

/// The names in a directory, sorted (an archive of the same tree is the same archive).
fn sorted_names(dir: &OwnedFd) -> Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let mut d = nix::dir::Dir::from_fd(dir.try_clone()?)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let bytes = e?.file_name().to_bytes().to_vec();
        if bytes != b"." && bytes != b".." {
            names.push(std::ffi::OsStr::from_bytes(&bytes).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Open an entry seen as `st` without following a symlink, and check it is still that entry.
fn open_entry(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    st: &FileStat,
    extra: OFlag,
) -> Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | extra,
        Mode::empty(),
    )?;
    let now = nix::sys::stat::fstat(&fd)?;
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
        bail!("{} changed while it was read", name.to_string_lossy());
    }
    Ok(fd)
}

fn whiteout<W: Write>(tar: &mut tar::Builder<W>, h: &mut tar::Header, name: PathBuf) -> Result<()> {
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o600);
    tar.append_data(h, name, std::io::empty())?;
    Ok(())
}

/// A tar header with an entry's type, permissions, owner and mtime (size 0; regular files set theirs).
fn header(st: &FileStat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h.set_entry_type(match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => tar::EntryType::Directory,
        libc::S_IFLNK => tar::EntryType::Symlink,
        libc::S_IFCHR => tar::EntryType::Char,
        libc::S_IFBLK => tar::EntryType::Block,
        libc::S_IFIFO => tar::EntryType::Fifo,
        _ => tar::EntryType::Regular,
    });
    h
}

fn is_opaque(dir: &OwnedFd) -> bool {
    let mut v = [0u8; 2];
    // SAFETY: fgetxattr on an fd we own into a local buffer of the given size.
    let n = unsafe {
        libc::fgetxattr(
            dir.as_raw_fd(),
            c"trusted.overlay.opaque".as_ptr(),
            v.as_mut_ptr().cast(),
            v.len(),
        )
    };
    n == 1 && v[0] == b'y'
}

/// Reads exactly `left` bytes or fails: a file that shrinks while it is archived must not corrupt the tar.
struct ExactReader<R: std::io::Read> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn temp_blob(dir: &Path, what: &str) -> Result<Blob> {
    let path = dir.join(format!(".brig-commit-{}-{what}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Blob {
        file,
        path,
        digest: String::new(),
        size: 0,
    })
}

/// Counts and hashes what passes through: a layer's digest is known once it is written.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (String, u64) {
        (
            format!("sha256:{}", hex(&self.hasher.finalize())),
            self.size,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sha256_hex(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The architecture as image configs name it (Go's GOARCH).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(image_reference("web").unwrap(), "web:latest");
        assert_eq!(image_reference("my/web:v1.2").unwrap(), "my/web:v1.2");
        assert_eq!(
            image_reference("localhost:5000/web").unwrap(),
            "localhost:5000/web:latest"
        );
        assert!(image_reference("Web").is_err());
        assert!(image_reference("web:").is_err());
        assert_eq!(default_reference("My_Box+1"), "my_box-1:latest");
    }

    #[test]
    fn changes() {
        let spec: Spec = crate::spec::parse(crate::spec::DEFAULT_CONFIG).unwrap();
        let c = image_config(
            &spec,
            &[
                r#"CMD=["echo","hi"]"#.into(),
                "ENV FOO=bar".into(),
                "ENV=TERM=dumb".into(),
                "WORKDIR=/tmp".into(),
                "LABEL=a=b".into(),
                "ENTRYPOINT echo x".into(),
            ],
        )
        .unwrap();
        assert_eq!(c["Cmd"], json!(["echo", "hi"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo x"]));
        let env: Vec<String> = serde_json::from_value(c["Env"].clone()).unwrap();
        assert!(env.contains(&"FOO=bar".to_string()) && env.contains(&"TERM=dumb".to_string()));
        assert!(!env.contains(&"TERM=xterm".to_string()));
        assert_eq!(c["WorkingDir"], json!("/tmp"));
        assert_eq!(c["Labels"]["a"], json!("b"));
        assert_eq!(c["User"], json!("0:0"));
        for bad in [
            "FROM=x",
            "CMD",
            "WORKDIR=tmp",
            r#"CMD=["a", 1]"#,
            "ENV=novalue",
        ] {
            let e = image_config(&spec, &[bad.into()]).unwrap_err().to_string();
            assert!(e.contains("--change"), "{bad}: {e}");
        }
    }

    #[test]
    fn upper_dir_whiteouts_become_oci_whiteouts() {
        let dir = std::env::temp_dir().join(format!("brig-commit-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/sub")).unwrap();
        std::fs::write(dir.join("etc/new"), b"hello").unwrap();
        std::os::unix::fs::symlink("/etc/new", dir.join("link")).unwrap();
        // A link to a host directory is archived as the link, never walked.
        std::os::unix::fs::symlink("/etc", dir.join("hostetc")).unwrap();
        nix::sys::stat::mknod(
            &dir.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let mut out = Vec::new();
        {
            let mut tar = tar::Builder::new(&mut out);
            append_tree(&mut tar, &dir, true).unwrap();
            tar.finish().unwrap();
        }
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(&out[..]);
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            names.push((
                e.path().unwrap().display().to_string(),
                e.header().entry_type(),
            ));
        }
        std::fs::remove_dir_all(&dir).unwrap();
        let n: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            n,
            [
                "etc",
                "etc/.wh.gone",
                "etc/new",
                "etc/sub",
                "hostetc",
                "link"
            ]
        );
        assert_eq!(names[1].1, tar::EntryType::Regular);
        assert_eq!(names[4].1, tar::EntryType::Symlink);
        assert_eq!(names[5].1, tar::EntryType::Symlink);
    }
}
