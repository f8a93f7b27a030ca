// Record the git commit for `brig --version` (docker shows it as the runtime commit).
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(c) = commit {
        println!("cargo:rustc-env=BRIG_COMMIT={c}");
    }
    println!("cargo:rerun-if-changed=.git/HEAD");
}
