//! Staff credentials: passwords (argon2id), API tokens and login sessions, as values. Storing them
//! is the store's job; deciding what a role may do is `domain::Role`'s.

pub mod credentials;

pub use credentials::{PasswordError, Secret256, hash_password, verify_password};
