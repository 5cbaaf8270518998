//! Domain types: values that parse on construction, so code that holds one knows it is valid.
//!
//! Nothing here touches the database, the network or the file system.

mod email;
mod language;
mod name;
mod slug;
mod status;

pub use email::{EmailAddress, EmailError};
pub use language::{LanguageError, LanguageTag};
pub use name::{NameError, SubscriberName};
pub use slug::{ListSlug, SlugError};
pub use status::{ConsentSource, SubscriberStatus, SubscriptionStatus, UnknownStatus};
