//! Delivery: turning a rendered issue into one message per recipient, and (later) the queue,
//! workers and transports that hand them to the relay.

pub mod message;
mod qp;
