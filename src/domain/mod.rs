//! Domain types: values that parse on construction, so code that holds one knows it is valid.
//!
//! Nothing here touches the database, the network or the file system.

mod email;
mod issue;
mod language;
mod name;
pub mod personal;
mod role;
mod slug;
mod status;
pub mod token;
pub mod verp;

pub use email::{EmailAddress, EmailError, SuppressionKey};
pub use issue::{IssueParseError, IssueSource};
pub use language::{LanguageError, LanguageTag};
pub use name::{NameError, SubscriberName};
pub use role::{Permission, Role, UnknownRole};
pub use slug::{ListSlug, SlugError};
pub use status::{ConsentSource, SubscriberStatus, SubscriptionStatus, UnknownStatus};
