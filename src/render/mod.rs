//! Rendering: an issue becomes HTML email, plain text, web pages and feeds.
//!
//! Pure: no I/O and no SQL. Callers fetch what is needed and hand it in; rendering happens once
//! per issue, and per-recipient values are filled into [`slots`] afterwards.

pub mod archive;
pub mod charts;
pub mod confirmation;
pub mod feeds;
pub mod i18n;
pub mod issue;
pub mod json_feed;
pub mod layout;
pub mod markdown;
pub mod opml;
pub mod public_pages;
pub mod slots;
pub mod text;
pub mod wrap;
