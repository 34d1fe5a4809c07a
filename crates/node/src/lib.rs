//! The emulated node (`wb node`).

pub mod storage;
