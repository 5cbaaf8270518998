//! Tidings: a self-hosted newsletter mailer and feed publisher.
//!
//! The faces (`cli`, later `web`) sit on top and call the engine (`audience`, later `render`,
//! `delivery`, `bounce`); the engine uses `store` and `domain`; `store` knows only `domain`.

pub mod app;
pub mod audience;
pub mod bounces;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod doctor;
pub mod domain;
pub mod operations;
pub mod publishing;
pub mod render;
pub mod staff;
pub mod store;
pub mod web;
pub mod websub;
