//! The convenience flags of `run` and `create` (-v, -e, --hostname, -w, -u, --overlay, `-- COMMAND`) applied to a loaded spec
//! in memory. The bundle's config.json is never written: two containers from one bundle can differ.

use crate::cli::SpecEdits;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Mount, MountBuilder, Spec};
use std::path::{Component, Path, PathBuf};

/// An annotation that asks for `--overlay` from the bundle itself (value "true").
pub const OVERLAY_ANNOTATION: &str = "brig.overlay";

/// A parsed `-v HOST:CTR[:ro|:rw]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Volume {
    pub host: PathBuf,
    pub dest: PathBuf,
    pub read_only: bool,
}

/// Parse `-v`. A relative HOST is taken from the current directory; CTR must be absolute and stay a plain
/// path (no `..`: it is resolved inside the rootfs anyway, but a person who wrote one meant something else).
pub fn parse_volume(text: &str, cwd: &Path) -> Result<Volume> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, dest, mode) = match parts[..] {
        [h, d] => (h, d, None),
        [h, d, m] => (h, d, Some(m)),
        _ => bail!("-v {text:?}: expected HOST:CTR or HOST:CTR:ro"),
    };
    if host.is_empty() || dest.is_empty() {
        bail!("-v {text:?}: expected HOST:CTR or HOST:CTR:ro");
    }
    let dest = PathBuf::from(dest);
    if !dest.is_absolute() {
        bail!(
            "-v {text:?}: the container path {:?} must be absolute",
            dest
        );
    }
    if dest.components().any(|c| c == Component::ParentDir) {
        bail!("-v {text:?}: the container path must not contain \"..\"");
    }
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(m) => bail!("-v {text:?}: unknown mode {m:?} (ro or rw)"),
    };
    let host = if Path::new(host).is_absolute() {
        PathBuf::from(host)
    } else {
        cwd.join(host)
    };
    Ok(Volume {
        host,
        dest,
        read_only,
    })
}

/// Check every flag and change `spec` accordingly. Nothing on disk is touched (see `create_volume_dirs`).
pub fn apply(spec: &mut Spec, rootfs: &Path, e: &SpecEdits) -> Result<Vec<Volume>> {
    let mut volumes = Vec::new();
    if !e.volumes.is_empty() {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        for v in &e.volumes {
            volumes.push(parse_volume(v, &cwd)?);
        }
    }
    for kv in &e.env {
        match kv.split_once('=') {
            Some((k, _)) if !k.is_empty() => {}
            _ => bail!("-e {kv:?}: expected NAME=VALUE"),
        }
    }
    if let Some(w) = &e.workdir {
        if !Path::new(w).is_absolute() {
            bail!("-w {w:?}: the working directory must be an absolute path");
        }
    }
    let user = e
        .user
        .as_deref()
        .map(|u| crate::security::user::resolve(rootfs, "-u", u))
        .transpose()?;

    if let Some(h) = &e.hostname {
        spec.set_hostname(Some(h.clone()));
    }
    if let Some(p) = spec.process_mut() {
        if !e.env.is_empty() {
            let mut env = p.env().clone().unwrap_or_default();
            for kv in &e.env {
                if let Some((k, _)) = kv.split_once('=') {
                    let prefix = format!("{k}=");
                    env.retain(|old| !old.starts_with(&prefix));
                }
                env.push(kv.clone());
            }
            p.set_env(Some(env));
        }
        if let Some(w) = &e.workdir {
            p.set_cwd(PathBuf::from(w));
        }
        if !e.command.is_empty() {
            p.set_args(Some(e.command.clone()));
        }
        if let Some((uid, gid)) = user {
            p.user_mut().set_uid(uid);
            p.user_mut().set_gid(gid);
            p.user_mut().set_additional_gids(None);
        }
    }
    if !volumes.is_empty() {
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for v in &volumes {
            // A volume replaces whatever the bundle mounted at the same place.
            mounts.retain(|m| m.destination() != &v.dest);
            mounts.push(bind_mount(v)?);
        }
        spec.set_mounts(Some(mounts));
    }
    Ok(volumes)
}

fn bind_mount(v: &Volume) -> Result<Mount> {
    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
    if v.read_only {
        options.push("ro".to_string());
    }
    MountBuilder::default()
        .destination(&v.dest)
        .typ("bind")
        .source(&v.host)
        .options(options)
        .build()
        .context("cannot build the volume mount")
}

/// Whether the container gets a private overlay layer: `--overlay`, or the bundle's `brig.overlay` annotation.
pub fn wants_overlay(spec: &Spec, e: &SpecEdits) -> Result<bool> {
    match spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(OVERLAY_ANNOTATION))
        .map(String::as_str)
    {
        None | Some("false") => Ok(e.overlay),
        Some("true") => Ok(true),
        Some(v) => bail!(
            "config.json: annotation {OVERLAY_ANNOTATION} is {v:?}: expected \"true\" or \"false\""
        ),
    }
}

/// Create the host directories of volumes that do not exist yet; returns the ones made, outermost first, so a
/// failed create can remove them again.
pub fn create_volume_dirs(volumes: &[Volume]) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for v in volumes {
        let mut missing = Vec::new();
        let mut p = v.host.as_path();
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        std::fs::create_dir_all(&v.host).map_err(|e| {
            remove_made_dirs(&made);
            anyhow::anyhow!(
                "-v {}: cannot create the host directory: {e}",
                v.host.display()
            )
        })?;
        made.extend(missing.into_iter().rev());
    }
    Ok(made)
}

/// Undo `create_volume_dirs` (only directories that are still empty go).
pub fn remove_made_dirs(made: &[PathBuf]) {
    for d in made.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edits() -> SpecEdits {
        SpecEdits::default()
    }

    fn spec() -> Spec {
        super::super::parse(super::super::DEFAULT_CONFIG).unwrap()
    }

    #[test]
    fn volume_specs() {
        let cwd = Path::new("/work");
        assert_eq!(
            parse_volume("/srv/data:/data:ro", cwd).unwrap(),
            Volume {
                host: "/srv/data".into(),
                dest: "/data".into(),
                read_only: true
            }
        );
        assert_eq!(
            parse_volume("d:/data", cwd).unwrap().host,
            Path::new("/work/d")
        );
        for (bad, why) in [
            ("/srv/data", "expected HOST:CTR"),
            ("/srv:data", "must be absolute"),
            ("/srv:/data:rx", "unknown mode"),
            (":/data", "expected HOST:CTR"),
            ("/a:/b:ro:x", "expected HOST:CTR"),
            ("/a:/b/../../etc", "\"..\""),
        ] {
            let e = parse_volume(bad, cwd).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn env_is_added_or_replaced() {
        let mut s = spec();
        let mut e = edits();
        e.env = vec!["TERM=dumb".into(), "NEW=1=2".into()];
        apply(&mut s, Path::new("/nonexistent"), &e).unwrap();
        let env = s.process().as_ref().unwrap().env().clone().unwrap();
        assert!(env.contains(&"TERM=dumb".to_string()));
        assert!(!env.contains(&"TERM=xterm".to_string()));
        assert!(env.contains(&"NEW=1=2".to_string()));
        e.env = vec!["NOEQUALS".into()];
        assert!(apply(&mut s, Path::new("/"), &e).is_err());
    }

    #[test]
    fn volume_replaces_mount_at_same_destination() {
        let mut s = spec();
        let mut e = edits();
        e.volumes = vec!["/srv/t:/tmp:ro".into()];
        apply(&mut s, Path::new("/nonexistent"), &e).unwrap();
        let at_tmp: Vec<_> = s
            .mounts()
            .iter()
            .flatten()
            .filter(|m| m.destination() == Path::new("/tmp"))
            .collect();
        assert_eq!(at_tmp.len(), 1);
        assert_eq!(at_tmp[0].source().as_deref(), Some(Path::new("/srv/t")));
        assert!(at_tmp[0]
            .options()
            .as_ref()
            .unwrap()
            .contains(&"ro".to_string()));
    }

    #[test]
    fn workdir_user_hostname() {
        let mut s = spec();
        let mut e = edits();
        e.workdir = Some("/tmp".into());
        e.user = Some("1000:1000".into());
        e.hostname = Some("box".into());
        e.command = vec!["echo".into(), "hi".into()];
        apply(&mut s, Path::new("/nonexistent"), &e).unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!(
            p.args().as_deref(),
            Some(&["echo".to_string(), "hi".to_string()][..])
        );
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
        assert_eq!(s.hostname().as_deref(), Some("box"));
        e.workdir = Some("tmp".into());
        assert!(apply(&mut s, Path::new("/"), &e)
            .unwrap_err()
            .to_string()
            .contains("-w \"tmp\""));
    }

    #[test]
    fn overlay_from_flag_or_annotation() {
        let mut s = spec();
        let mut e = edits();
        assert!(!wants_overlay(&s, &e).unwrap());
        e.overlay = true;
        assert!(wants_overlay(&s, &e).unwrap());
        e.overlay = false;
        s.set_annotations(Some(
            [(OVERLAY_ANNOTATION.to_string(), "true".to_string())].into(),
        ));
        assert!(wants_overlay(&s, &e).unwrap());
        s.set_annotations(Some(
            [(OVERLAY_ANNOTATION.to_string(), "yes".to_string())].into(),
        ));
        assert!(wants_overlay(&s, &e).is_err());
    }
}
