//! Any bytes given to the bounce reader: no panic, whatever they are.
#![no_main]

use libfuzzer_sys::fuzz_target;

static QUIET: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // The reader catches the MIME parser's panics (an unreadable message, as in the daemon);
    // libFuzzer's own hook would abort on them even so. Any other panic still aborts.
    QUIET.call_once(tidings::bounces::read::quiet_parser_panics);
    let _ = tidings::bounces::read::read(data);
    let _ = tidings::bounces::webhooks::parse("ses", data);
    let _ = tidings::bounces::webhooks::parse("sendgrid", data);
});
