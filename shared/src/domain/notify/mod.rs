//! Notifications: who may still be written to (the suppression list, [`suppression`]) and the
//! one-click unsubscribe every member message carries ([`unsubscribe`]).

pub mod suppression;
pub mod unsubscribe;
