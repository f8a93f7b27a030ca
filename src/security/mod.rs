//! Who the container process is and what it may do: user and groups, capabilities, rlimits, no_new_privs,
//! and the AppArmor/SELinux fields. Everything here runs in the init just before exec.

pub mod capabilities;
pub mod rlimits;
pub mod seccomp;
pub mod user;

use anyhow::{bail, Result};

/// runc ignores an AppArmor profile when the host has AppArmor disabled; brig does the same. On a host with
/// AppArmor enabled brig cannot apply the profile yet, so it refuses rather than run unconfined.
pub fn apparmor_check(profile: &str) -> Result<()> {
    if apparmor_enabled() {
        bail!("process.apparmorProfile {profile:?}: applying AppArmor profiles is not supported by this version of brig");
    }
    crate::logs::debug(&format!(
        "AppArmor is disabled on this host: ignoring profile {profile:?} (as runc)"
    ));
    Ok(())
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// runc ignores SELinux labels when SELinux is not enabled; on a host with SELinux brig refuses them.
pub fn selinux_check() -> Result<()> {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        bail!("process.selinuxLabel: applying SELinux labels is not supported by this version of brig");
    }
    Ok(())
}

pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        bail!(
            "cannot set no_new_privs: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}
