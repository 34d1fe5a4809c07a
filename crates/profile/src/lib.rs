//! Profiles of benchmark clusters: which nodes exist, where they run and who talks to whom.

pub mod catalog;
pub mod genesis;
pub mod profile;
pub mod regions;
pub mod topology;
