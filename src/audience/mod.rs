//! Operations on the audience that are more than one store call: importing a CSV of
//! subscribers into a list, and exporting subscriptions as CSV. Both stream.

mod export;
mod import;

pub use export::{ExportError, export_csv};
pub use import::{ImportError, ImportReport, Problem, check_utf8, import_csv};

/// Columns that `export` writes besides email, name and attributes. `import` reads `status` from
/// them (so a re-import never resubscribes someone who left) and ignores the rest, so an export
/// can be imported back without these turning into attributes.
pub const RESERVED_COLUMNS: &[&str] =
    &["list", "status", "consent_source", "subscribed_at", "confirmed_at", "unsubscribed_at", "created_at", "updated_at"];
