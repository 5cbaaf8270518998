//! Any bytes given to the bounce reader: no panic, whatever they are.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tidings::bounces::read::read(data);
    let _ = tidings::bounces::webhooks::parse("ses", data);
    let _ = tidings::bounces::webhooks::parse("sendgrid", data);
});
