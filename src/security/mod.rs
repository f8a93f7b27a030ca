//! Who the container process is and what it may do: user and groups, capabilities, rlimits, no_new_privs,
//! AppArmor and SELinux. Everything here runs in the init (or exec'd process) just before execve.

pub mod capabilities;
pub mod rlimits;
pub mod seccomp;
pub mod user;

use anyhow::{bail, Result};

/// The AppArmor profile to apply: runc ignores the field when the host has AppArmor disabled, and so does brig.
pub fn apparmor_profile(profile: Option<&str>) -> Option<String> {
    let profile = profile.filter(|p| !p.is_empty())?;
    if !apparmor_enabled() {
        crate::logs::debug(&format!(
            "AppArmor is disabled on this host: ignoring profile {profile:?} (as runc)"
        ));
        return None;
    }
    Some(profile.to_string())
}

/// Ask AppArmor to confine this process with `profile` from its next execve on (libapparmor's
/// aa_change_onexec, what runc does). An unloaded profile is refused by the kernel here, not at exec.
pub fn apply_apparmor(profile: &str) -> Result<()> {
    let request = format!("exec {profile}");
    let written = std::fs::write("/proc/self/attr/apparmor/exec", &request)
        .or_else(|_| std::fs::write("/proc/self/attr/exec", &request));
    if let Err(e) = written {
        bail!(
            "process.apparmorProfile {profile:?}: cannot apply it (is the profile loaded?): {}",
            crate::hooks::lower(&e)
        );
    }
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
