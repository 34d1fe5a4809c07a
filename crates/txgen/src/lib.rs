//! The transaction generator (`wb txgen`).

pub mod build;
pub mod config;
pub mod events;
pub mod follow;
pub mod plan;
pub mod run;
pub mod submit;
