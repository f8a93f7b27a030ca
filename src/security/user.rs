//! The process's uid, gid and supplementary groups, and the HOME a process gets when its env has none.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// Switch to uid/gid/groups keeping the permitted capabilities (they are narrowed right after).
pub fn switch(uid: u32, gid: u32, groups: &[u32]) -> Result<()> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        bail!("cannot set keep-caps: {}", std::io::Error::last_os_error());
    }
    let gids: Vec<nix::unistd::Gid> = groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&gids) {
        Ok(()) => {}
        // In a user namespace whose setgroups is denied, an empty list is what the process has anyway.
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        Err(e) => bail!(
            "cannot set supplementary groups {groups:?}: {}",
            e.desc().to_lowercase()
        ),
    }
    let g = nix::unistd::Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).with_context(|| format!("cannot set gid {gid}"))?;
    let u = nix::unistd::Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).with_context(|| format!("cannot set uid {uid}"))?;
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}

/// The home directory of `uid` in the container's /etc/passwd (read after pivot_root), else `/`.
pub fn home_of(uid: u32) -> String {
    home_in(&read_bounded(Path::new("/etc/passwd")), uid).unwrap_or_else(|| "/".to_string())
}

/// A file of the container's, at most 1 MiB of it; empty when it cannot be read.
fn read_bounded(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(1 << 20).read_to_string(&mut text);
    }
    text
}

/// `USER[:GROUP]` (named by `flag` in errors), each a number or a name from /etc/passwd and /etc/group under
/// `root` (a rootfs, or /proc/PID/root of a running container). A name's primary group is used when no group
/// is given; a bare number gets gid 0, as runc.
pub fn resolve(root: &Path, flag: &str, s: &str) -> Result<(u32, u32)> {
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    if user.is_empty() || group == Some("") {
        bail!("{flag} {s:?}: expected USER or USER:GROUP");
    }
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, 0),
        Err(_) => uid_of(&file_in_root(root, "/etc/passwd"), user).with_context(|| {
            format!("{flag} {s:?}: no user {user:?} in the container's /etc/passwd")
        })?,
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => gid_of(&file_in_root(root, "/etc/group"), g).with_context(|| {
                format!("{flag} {s:?}: no group {g:?} in the container's /etc/group")
            })?,
        },
    };
    Ok((uid, gid))
}

/// A file of the container's, read with symlinks kept inside `root` (a hostile /etc/passwd -> /etc/shadow link
/// must not reach the host's), at most 1 MiB; empty when missing.
fn file_in_root(root: &Path, path: &str) -> String {
    crate::rootfs::safe_path::resolve_in_root(root, Path::new(path))
        .map(|p| read_bounded(&p))
        .unwrap_or_default()
}

/// (uid, primary gid) of user `name` in passwd-format text.
pub fn uid_of(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[0] == name)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

/// The gid of group `name` in group-format text.
pub fn gid_of(group: &str, name: &str) -> Option<u32> {
    group.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

fn home_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) && !f[5].is_empty())
            .then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_ids() {
        let p = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100:u:/home/u:/bin/sh\nbroken:x:abc:1::/:/bin/sh\n";
        assert_eq!(uid_of(p, "user"), Some((1000, 100)));
        assert_eq!(uid_of(p, "nobody"), None);
        assert_eq!(uid_of(p, "broken"), None);
        assert_eq!(gid_of("tty:x:5:\nusers:x:100:\n", "users"), Some(100));
        assert_eq!(gid_of("tty:x:5:\n", "wheel"), None);
    }

    #[test]
    fn numeric_users_need_no_lookup() {
        // An empty root has no /etc/passwd: only numbers resolve.
        let root = Path::new("/nonexistent-root");
        assert_eq!(resolve(root, "-u", "1000").unwrap(), (1000, 0));
        assert_eq!(resolve(root, "-u", "1000:100").unwrap(), (1000, 100));
        let e = resolve(root, "-u", "root").unwrap_err().to_string();
        assert!(e.contains("-u \"root\": no user"), "{e}");
        assert!(resolve(root, "-u", "1:wheel")
            .unwrap_err()
            .to_string()
            .contains("no group"));
        assert!(resolve(root, "-u", ":5").is_err());
    }

    #[test]
    fn passwd_home() {
        let p = "root:x:0:0:root:/root:/bin/sh\nbad line\nwww:x:33:33::/var/www:/bin/false\n";
        assert_eq!(home_in(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_in(p, 33).as_deref(), Some("/var/www"));
        assert_eq!(home_in(p, 1000), None);
    }
}
