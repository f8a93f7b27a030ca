//! `commit`: archives that podman (from Debian, with brig as its runtime) loads and runs, their layers and
//! config, and the refusals. docker's `load` is checked by conformance/clients/run.sh, which runs a dockerd.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A podman with its own storage and brig as its runtime; everything goes when it is dropped.
struct Podman {
    dir: PathBuf,
}

impl Podman {
    fn new(env: &Env) -> Podman {
        assert!(
            Path::new("/usr/bin/podman").exists(),
            "podman is needed (conformance/run-tests.sh installs it)"
        );
        // podman refuses a runroot longer than 50 characters: a short directory of its own.
        let dir = PathBuf::from(format!(
            "/tmp/brig-pm-{}",
            env.name
                .splitn(3, '-')
                .take(2)
                .collect::<Vec<_>>()
                .join("-")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\nnetns = \"none\"\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"brig\"\n\
                 runtime_supports_json = [\"brig\"]\n[engine.runtimes]\nbrig = [\"{BRIG}\"]\n"
            ),
        )
        .unwrap();
        Podman { dir }
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("podman")
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.success(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        )
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-af"]);
        let _ = self.run(&["rmi", "-af"]);
        let mine = path_str(&self.dir);
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|m| m.starts_with(&mine))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The entries of an archive: name -> bytes.
fn entries(tar: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(std::fs::File::open(tar).unwrap());
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

fn layer_names(layer: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(layer);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

/// A detached overlay container that changes its filesystem and then waits.
fn changed_container(env: &Env, id: &str) {
    env.config_sh(
        "echo changed > /etc/motd; rm /bin/vi; mkdir -p /made/here; echo ready; sleep 100",
        |_| {},
    );
    let b = path_str(&env.bundle);
    let out = env.brig(&["run", "-d", "--overlay", "-e", "MARK=1", "--bundle", &b, id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until("the container's changes", || {
        text(&env.brig(&["logs", id]).stdout).contains("ready")
    });
}

#[test]
fn committed_overlay_container_loads_and_runs_in_podman() {
    let env = Env::new("commit-podman");
    let id = env.id("c");
    changed_container(&env, &id);
    let podman = Podman::new(&env);
    for (format, tag) in [
        ("docker", "brig-test/docker:v1"),
        ("oci", "brig-test/oci:v1"),
    ] {
        let archive = env.dir.join(format!("{format}.tar"));
        let out = env.brig(&[
            "commit",
            "--format",
            format,
            "--tag",
            tag,
            &id,
            &path_str(&archive),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            env.status(&id),
            "running",
            "commit must resume the container"
        );
        let (ok, said) = podman.run(&["load", "-i", &path_str(&archive)]);
        assert!(ok, "podman load of the {format} archive: {said}");
        let (ok, said) = podman.run(&[
            "run",
            "--rm",
            tag,
            "sh",
            "-c",
            "cat /etc/motd; ls /bin/vi 2>&1; ls -d /made/here; echo MARK=$MARK",
        ]);
        assert!(ok, "podman run of the {format} image: {said}");
        assert!(said.contains("changed\n"), "{format}: {said}");
        assert!(
            said.contains("No such file or directory"),
            "{format}: vi still there: {said}"
        );
        assert!(said.contains("/made/here\n"), "{format}: {said}");
        assert!(
            said.contains("MARK=1\n"),
            "{format}: the image lost the env: {said}"
        );
    }
    // The image carries the container's args, env, cwd and user: podman runs it as the container ran.
    let plain = env.id("p");
    env.config_sh("echo $MARK in $(pwd) as $(id -u)", |_| {});
    let b = path_str(&env.bundle);
    let out = env.brig(&[
        "create", "--bundle", &b, "-e", "MARK=m", "-w", "/tmp", "-u", "1000", &plain,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let archive = env.dir.join("plain.tar");
    let out = env.brig(&[
        "commit",
        "--tag",
        "brig-test/plain",
        &plain,
        &path_str(&archive),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, said) = podman.run(&["load", "-i", &path_str(&archive)]);
    assert!(ok, "{said}");
    let (ok, said) = podman.run(&["run", "--rm", "brig-test/plain"]);
    assert!(ok, "{said}");
    assert_eq!(said.trim_end(), "m in /tmp as 1000");
}

#[test]
fn overlay_commit_has_the_base_and_the_changes_as_two_layers() {
    let env = Env::new("commit-layers");
    let id = env.id("c");
    changed_container(&env, &id);
    let archive = env.dir.join("img.tar");
    let out = env.brig(&[
        "commit",
        "-m",
        "my message",
        "--change",
        "CMD=[\"echo\",\"hi\"]",
        "--change",
        "ENV FOO=bar",
        &id,
        &path_str(&archive),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = entries(&archive);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], format!("{id}:latest"));
    let layers: Vec<&str> = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(layers.len(), 2);
    let base = layer_names(&files[layers[0]]);
    assert!(base.contains(&"bin/busybox".to_string()));
    let changes = layer_names(&files[layers[1]]);
    assert!(changes.contains(&"etc/motd".to_string()), "{changes:?}");
    assert!(changes.contains(&"bin/.wh.vi".to_string()), "{changes:?}");
    assert!(changes.contains(&"made/here".to_string()), "{changes:?}");
    assert!(!changes.contains(&"bin/busybox".to_string()), "{changes:?}");
    let config: Value =
        serde_json::from_slice(&files[manifest[0]["Config"].as_str().unwrap()]).unwrap();
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["echo", "hi"]));
    let env_list = config["config"]["Env"].as_array().unwrap();
    assert!(env_list.contains(&"FOO=bar".into()) && env_list.contains(&"MARK=1".into()));
    assert_eq!(config["history"][1]["comment"], "my message");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    // The layer digests are the sha256 of the layer tars, as loaders check.
    for (l, diff) in layers
        .iter()
        .zip(config["rootfs"]["diff_ids"].as_array().unwrap())
    {
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(&files[*l])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(diff.as_str().unwrap(), format!("sha256:{hex}"));
    }
}

#[test]
fn commit_without_overlay_is_one_layer_of_the_whole_rootfs() {
    let env = Env::new("commit-flat");
    env.config_sh("true", |_| {});
    let id = env.id("c");
    env.create_ok(&id);
    let archive = env.dir.join("flat.tar");
    let out = env.brig(&["commit", "--format", "oci", &id, &path_str(&archive)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = entries(&archive);
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value =
        serde_json::from_slice(&files[&format!("blobs/sha256/{}", &digest[7..])]).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let layer = &files[&format!(
        "blobs/sha256/{}",
        &layers[0]["digest"].as_str().unwrap()[7..]
    )];
    let names = layer_names(layer);
    assert!(
        names.contains(&"bin/busybox".to_string()) && names.contains(&"etc/passwd".to_string())
    );
    assert_eq!(env.status(&id), "created");
}

#[test]
fn commit_refuses_an_existing_target_and_unknown_ids() {
    let env = Env::new("commit-bad");
    env.config_sh("true", |_| {});
    let id = env.id("c");
    env.create_ok(&id);
    let target = env.dir.join("exists.tar");
    std::fs::write(&target, b"precious").unwrap();
    let t = path_str(&target);
    env.fails(
        &["commit", &id, &t],
        "exists: choose another file or pass --force",
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    let other = env.dir.join("other.tar");
    env.fails(
        &["commit", "no-such-ctr", &path_str(&other)],
        "container no-such-ctr does not exist",
    );
    assert!(!other.exists());
    env.fails(
        &["commit", "--change", "FROM=x", &id, &path_str(&other)],
        "--change \"FROM=x\"",
    );
    env.fails(
        &["commit", "--tag", "Upper", &id, &path_str(&other)],
        "--tag \"Upper\"",
    );
    assert!(!other.exists());
    let out = env.brig(&["commit", "--force", &id, &t]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(entries(&target).contains_key("manifest.json"));
    // Nothing but the archive is left next to it.
    let left: Vec<_> = std::fs::read_dir(&env.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
