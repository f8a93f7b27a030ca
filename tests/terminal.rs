//! process.terminal: the pty master arrives over --console-socket and the container's stdio is the slave.
mod common;
use common::*;
use std::io::Read;
use std::os::unix::net::UnixListener;

#[test]
fn pty_master_over_console_socket() {
    let env = Env::new("tty");
    env.config_sh(
        "tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty; stty size; echo done",
        |v| {
            v["process"]["terminal"] = serde_json::json!(true);
            v["process"]["consoleSize"] = serde_json::json!({"height": 30, "width": 100});
        },
    );
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = env.id("c");
    let b = path_str(&env.bundle);
    let s = path_str(&sock);
    let waiter = std::thread::spawn(move || accept_fd(&listener).1.expect("no fd received"));
    let out = env.brig(&["create", "--console-socket", &s, "--bundle", &b, &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let master = waiter.join().unwrap();
    assert!(env.brig(&["start", &id]).status.success());
    let mut f = std::fs::File::from(master);
    let mut got = String::new();
    let mut buf = [0u8; 256];
    while !got.contains("done") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(got.contains("/dev/pts/0"), "{got}");
    assert!(got.contains("stdio-is-tty"), "{got}");
    assert!(got.contains("30 100"), "console size applied: {got}");
    wait_until("exit", || env.status(&id) == "stopped");
    assert!(env.brig(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn terminal_without_console_socket_is_refused_when_brig_will_not_stay() {
    // create returns at once and leaves the container to its caller: nobody would hold the pty. (`run -d`
    // has its monitor, which logs the terminal: tests/convenience.rs.)
    let env = Env::new("tty-nosock");
    env.config_sh("true", |v| {
        v["process"]["terminal"] = serde_json::json!(true)
    });
    let id = env.id("create");
    let b = path_str(&env.bundle);
    env.fails(&["create", "--bundle", &b, &id], "console-socket");
    env.assert_gone(&id);
}

/// Foreground run/exec with process.terminal and no --console-socket: brig holds the pty and relays.
fn relay(env: &Env, args: &[&str], input: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = env
        .cmd()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout).replace('\r', ""),
    )
}

#[test]
fn foreground_run_relays_the_terminal() {
    let env = Env::new("tty-relay");
    env.config_sh(
        "tty; [ -t 0 ] && echo stdin-is-tty; read x; echo got $x; exit 4",
        |v| {
            v["process"]["terminal"] = serde_json::json!(true);
        },
    );
    let id = env.id("c");
    let (code, out) = relay(
        &env,
        &["run", "--bundle", &path_str(&env.bundle), &id],
        "hello\n",
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("/dev/pts/0") && out.contains("stdin-is-tty") && out.contains("got hello"),
        "{out}"
    );
    env.assert_gone(&id);
}

#[test]
fn exec_tty_relays_the_terminal() {
    let env = Env::new("tty-exec");
    env.config_sh("sleep 100", |_| {});
    let id = env.id("c");
    env.run_detached(&id);
    let (code, out) = relay(
        &env,
        &[
            "exec",
            "-t",
            &id,
            "sh",
            "-c",
            "tty; read l; echo in-exec $l; exit 6",
        ],
        "line\n",
    );
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("/dev/pts/") && out.contains("in-exec line"),
        "{out}"
    );
    assert!(env.brig(&["delete", "--force", &id]).status.success());
}
