//! The emulated node (`wb node`).

pub mod events;
pub mod storage;
