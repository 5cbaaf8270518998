//! Delivery: turning a rendered issue into one message per recipient, and (later) the queue,
//! workers and transports that hand them to the relay.

pub mod confirmation;
pub mod dkim;
pub mod engine;
mod liveness;
pub mod message;
mod policy;
pub mod probe;
pub mod status;
pub mod transport;
mod qp;
mod smtp_client;
mod smtp_pool;
