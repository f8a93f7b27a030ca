//! One file per verb. Each parses nothing (clap did), makes no syscalls, and calls into container/.

pub mod create;
pub mod delete;
pub mod kill;
pub mod list;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod version;
