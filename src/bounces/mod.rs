//! Bounces and complaints: reading inbound messages into verdicts, and applying policy.

pub mod classify;
pub mod ingest;
pub mod maildir;
pub mod read;
pub mod webhooks;
