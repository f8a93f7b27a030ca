//! `brig --version`: docker parses the first line (`<name> version <ver>`) and the `commit:` line.

pub fn run() {
    println!("brig version {}", env!("CARGO_PKG_VERSION"));
    println!(
        "commit: {}",
        option_env!("BRIG_COMMIT").unwrap_or("unknown")
    );
    println!("spec: {}", crate::container::OCI_VERSION);
}
