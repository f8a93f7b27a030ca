//! One file per verb. Each parses nothing (clap did), makes no syscalls, and calls into container/.

pub mod commit;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod logs;
pub mod pause;
pub mod ps;
pub mod rm;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod stop;
pub mod update;
pub mod version;

/// An error about one of several ids: reported like a failed verb (stderr and --log), the others go on.
pub fn report(msg: &str) {
    crate::logs::error(msg);
    eprintln!("brig: {msg}");
}
