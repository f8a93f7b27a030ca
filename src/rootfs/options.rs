//! Mount options as config.json spells them, turned into mount(2) flags, propagation changes, recursive
//! mount_setattr(2) attributes and filesystem data. The table is runc's (see `brig features`).

use nix::mount::MsFlags;

/// mount_setattr(2) attribute bits (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount(2) call itself.
    pub flags: MsFlags,
    /// Propagation changes, applied after the mount in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set and clear with mount_setattr(AT_RECURSIVE).
    pub attr_set: u64,
    pub attr_clr: u64,
    /// Options the kernel flag table does not know: passed to the filesystem as data.
    pub data: Vec<String>,
    /// Copy what the destination held into a new tmpfs (runc's `tmpcopyup`).
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            data: Vec::new(),
            tmpcopyup: false,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// (option, clear instead of set, flag)
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("atime", true, MsFlags::MS_NOATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("defaults", false, MsFlags::empty()),
    ("dev", true, MsFlags::MS_NODEV),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("loud", true, MsFlags::MS_SILENT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("nodev", false, MsFlags::MS_NODEV),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("nosuid", false, MsFlags::MS_NOSUID),
    (
        "nosymfollow",
        false,
        MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
    ),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("silent", false, MsFlags::MS_SILENT),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("suid", true, MsFlags::MS_NOSUID),
    (
        "symfollow",
        true,
        MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
    ),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("acl", false, MsFlags::MS_POSIXACL),
    ("noacl", true, MsFlags::MS_POSIXACL),
];

const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// (option, clear instead of set, attribute)
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, MOUNT_ATTR_RDONLY),
    ("rrw", true, MOUNT_ATTR_RDONLY),
    ("rnosuid", false, MOUNT_ATTR_NOSUID),
    ("rsuid", true, MOUNT_ATTR_NOSUID),
    ("rnodev", false, MOUNT_ATTR_NODEV),
    ("rdev", true, MOUNT_ATTR_NODEV),
    ("rnoexec", false, MOUNT_ATTR_NOEXEC),
    ("rexec", true, MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, MOUNT_ATTR_NODIRATIME),
    ("rrelatime", false, MOUNT_ATTR_RELATIME),
    ("rnorelatime", true, MOUNT_ATTR_RELATIME),
    ("rnoatime", false, MOUNT_ATTR_NOATIME),
    ("ratime", true, MOUNT_ATTR_NOATIME),
    ("rstrictatime", false, MOUNT_ATTR_STRICTATIME),
    ("rnostrictatime", true, MOUNT_ATTR_STRICTATIME),
    ("rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW),
];

/// Every option name brig understands (for `features`).
pub fn known_options() -> Vec<&'static str> {
    let mut all: Vec<&str> = FLAGS.iter().map(|f| f.0).collect();
    all.extend(PROPAGATION.iter().map(|p| p.0));
    all.extend(RECURSIVE.iter().map(|r| r.0));
    all.push("tmpcopyup");
    all.sort_unstable();
    all
}

pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    PROPAGATION.iter().find(|p| p.0 == name).map(|p| p.1)
}

pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut out = MountOptions::default();
    for opt in options {
        let opt = opt.as_ref();
        if let Some(&(_, clear, flag)) = FLAGS.iter().find(|f| f.0 == opt) {
            if clear {
                out.flags.remove(flag);
            } else {
                out.flags.insert(flag);
            }
        } else if let Some(p) = propagation_flag(opt) {
            out.propagation.push(p);
        } else if let Some(&(_, clear, attr)) = RECURSIVE.iter().find(|r| r.0 == opt) {
            if attr & MOUNT_ATTR__ATIME == attr {
                // The atime attributes are one field: clear the field, then set the chosen mode.
                out.attr_clr |= MOUNT_ATTR__ATIME;
            }
            if clear {
                out.attr_clr |= attr;
                out.attr_set &= !attr;
            } else {
                out.attr_set |= attr;
                out.attr_clr &= !attr | (attr & MOUNT_ATTR__ATIME);
            }
        } else if opt == "tmpcopyup" {
            out.tmpcopyup = true;
        } else if !opt.is_empty() {
            out.data.push(opt.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_and_clear_in_order() {
        let o = parse(&["nosuid", "ro", "rw", "nodev", "dev", "noexec"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert!(o.data.is_empty());
    }

    #[test]
    fn bind_and_rbind() {
        assert!(parse(&["bind"]).is_bind());
        let o = parse(&["rbind", "ro"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
    }

    #[test]
    fn unknown_options_become_data() {
        let o = parse(&["nosuid", "mode=755", "size=65536k", "newinstance"]);
        assert_eq!(o.data_string(), "mode=755,size=65536k,newinstance");
    }

    #[test]
    fn propagation_kept_in_order() {
        let o = parse(&["rbind", "rslave", "private"]);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_SLAVE | MsFlags::MS_REC, MsFlags::MS_PRIVATE]
        );
        assert_eq!(
            propagation_flag("rshared"),
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
        assert_eq!(propagation_flag("bogus"), None);
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(&["rbind", "rro", "rnosuid"]);
        assert_eq!(o.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(o.attr_clr, 0);
        let o = parse(&["rrw"]);
        assert_eq!(o.attr_clr, MOUNT_ATTR_RDONLY);
        let o = parse(&["rnoatime"]);
        assert_eq!(o.attr_set, MOUNT_ATTR_NOATIME);
        assert_eq!(o.attr_clr, MOUNT_ATTR__ATIME);
    }

    #[test]
    fn tmpcopyup_and_known_list() {
        assert!(parse(&["tmpcopyup"]).tmpcopyup);
        let known = known_options();
        for o in ["ro", "rbind", "rslave", "rro", "tmpcopyup", "nosymfollow"] {
            assert!(known.contains(&o), "{o}");
        }
    }
}
