//! Resolve a path from config.json inside the rootfs as if the rootfs were `/`: `..` stops at the root and
//! symlinks (absolute or relative) are followed inside it, so a hostile rootfs cannot point a mount at the
//! host. Components that do not exist yet are appended as they are.

use anyhow::{bail, Result};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 255;

pub fn resolve_in_root(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    let mut pending: VecDeque<OsString> = components(unsafe_path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    bail!(
                        "{}: too many levels of symbolic links",
                        unsafe_path.display()
                    );
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for (i, c) in components(&target).into_iter().enumerate() {
                    pending.insert(i, c);
                }
            }
            _ => resolved.push(part),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

/// Normal components and `..`; `/` and `.` drop out.
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn stays_inside_root() {
        let tmp = std::env::temp_dir().join(format!("brig-safe-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../etc", root.join("rel")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        symlink("etc/../..", root.join("up")).unwrap();

        for (given, inside) in [
            ("/../../etc/passwd", "etc/passwd"),
            ("/abs/x", "etc/x"),
            ("rel/x", "etc/x"),
            ("/up/etc", "etc"),
            ("/new/dir", "new/dir"),
        ] {
            assert_eq!(
                resolve_in_root(&root, Path::new(given)).unwrap(),
                root.join(inside),
                "{given}"
            );
        }
        assert!(resolve_in_root(&root, Path::new("/loop")).is_err());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
