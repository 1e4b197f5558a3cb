//! One module per command group: its clap subcommands and what running each does.

pub mod breaker;
pub mod company;
pub mod config;
pub mod dlq;
pub mod emergency;
pub mod keys;
pub mod local;
pub mod mail;
pub mod maintenance;
pub mod sessions;
pub mod state;
pub mod sync;
pub mod webhook;

pub mod verify;

pub mod creator;
pub mod gumroad;
pub mod kdp;
