//! What to do after a send: the retry schedule, and a first reading of a relay's refusal.
//! (The bounce classifier of the bounce module refines the reading; this one only has to tell
//! a bad address from a refused message.)

use chrono::Duration;

use super::transport::SendError;
use crate::bounces::classify::classify;
use crate::store::Outcome;

const MAX_BACKOFF_SECS: i64 = 6 * 3600;

/// The outcome of a failed send, given which attempt this was.
pub fn after_failure(error: &SendError, attempts: i64, max_attempts: i64, retry_base_secs: u64) -> Outcome {
    match error {
        SendError::Permanent { code, message } => {
            let (hard, reason) = read_refusal(*code, message);
            Outcome::Rejected { code: *code, error: message.clone(), hard, reason }
        }
        SendError::Transient { code, message } if attempts >= max_attempts => Outcome::Failed { code: *code, error: format!("gave up after {attempts} attempts: {message}") },
        SendError::Transient { code, message } => Outcome::Retry { after: backoff(attempts, retry_base_secs), code: *code, error: message.clone() },
        SendError::Connection { message } => Outcome::Requeue { error: message.clone() },
    }
}

/// `base · 2^(attempt-1)`, times a random factor in [0.5, 1.5) so retries do not arrive in waves.
pub fn backoff(attempt: i64, base_secs: u64) -> Duration {
    let exp = (attempt - 1).clamp(0, 20) as u32;
    let secs = (base_secs as i64).saturating_mul(1i64 << exp).min(MAX_BACKOFF_SECS);
    let mut byte = [0u8; 1];
    let _ = getrandom::getrandom(&mut byte);
    let factor = 0.5 + f64::from(byte[0]) / 256.0;
    Duration::milliseconds((secs as f64 * 1000.0 * factor) as i64)
}

/// Whether a 5xx says the address is bad (hard) or our message was refused (soft, "blocked"),
/// and why: the bounce classifier's reading, so a refusal at send time and the same refusal in
/// a DSN get one verdict.
pub fn read_refusal(code: Option<u16>, message: &str) -> (bool, &'static str) {
    let temporary = code.is_some_and(|c| c < 500);
    let (hard, reason) = classify(None, message, temporary);
    (hard, reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for attempt in 1..6 {
            let b = backoff(attempt, 60).num_milliseconds();
            let nominal = 60_000 * (1 << (attempt - 1));
            assert!(b >= nominal / 2 && b < nominal * 3 / 2, "attempt {attempt}: {b}");
        }
        assert!(backoff(40, 60) <= Duration::seconds(MAX_BACKOFF_SECS * 3 / 2));
    }

    #[test]
    fn refusals_of_the_address_are_hard_and_of_the_message_soft() {
        assert_eq!(read_refusal(Some(550), "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown"), (true, "user_unknown"));
        assert_eq!(read_refusal(Some(550), "550 5.7.1 Message rejected as spam"), (false, "blocked"));
        assert_eq!(read_refusal(Some(554), "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"), (false, "blocked"));
        assert_eq!(read_refusal(Some(552), "552 5.3.4 Message size exceeds fixed limit"), (false, "message_too_large"));
        assert_eq!(read_refusal(Some(550), "550 something else"), (false, "other"));
    }

    /// The big providers' refusals of our message or server, as they answer at RCPT or DATA:
    /// never held against the reader, tallied as blocks for the receiving domain.
    #[test]
    fn providers_policy_refusals_are_blocks() {
        let blocks = [
            (550, "550-5.7.1 [198.51.100.7] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked."),
            (421, "421-4.7.28 [198.51.100.7] Our system has detected an unusual rate of unsolicited mail originating from your IP address."),
            (550, "550 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/198.51.100.7 (AS3130)"),
            (550, "550 5.7.1 Unfortunately, messages from [198.51.100.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."),
            (421, "421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume or user complaints"),
            (550, "550 Mail content denied. http://service.mail.qq.com/detail/122/171"),
            (554, "554 DT:SPM 163 smtp3,DcmowAD3 1764051600 http://mail.163.com/help/help_spam_16.htm?ip=198.51.100.7"),
            (554, "554 5.7.1 [2] Message rejected under suspicion of SPAM"),
            (554, "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7"),
            (550, "550 5.1.0 <news@news.example.org>: Sender address rejected: User unknown in local recipient table"),
            (550, "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."),
        ];
        for (code, reply) in blocks {
            assert_eq!(read_refusal(Some(code), reply), (false, "blocked"), "{reply}");
        }
        assert_eq!(read_refusal(Some(550), "550 5.7.1 No such user!"), (true, "user_unknown"), "Yandex answers an unknown user with 5.7.1");
        assert_eq!(read_refusal(Some(550), "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)"), (true, "user_unknown"), "Office 365's directory check");
        assert_eq!(read_refusal(Some(550), "550 5.5.0 Requested action not taken: mailbox unavailable"), (true, "user_unknown"));
        assert_eq!(read_refusal(Some(552), "552 5.1.1 <x@example.com> mailbox full"), (false, "mailbox_full"), "a full mailbox sent with an address code");
        assert_eq!(read_refusal(Some(550), "550 5.1.1 too many messages from your server, slow down"), (false, "rate_limited"));
        assert_eq!(read_refusal(Some(421), "421 4.7.0 mx.example Error: too many connections from 198.51.100.7"), (false, "rate_limited"));
        assert_eq!(read_refusal(Some(556), "556 5.1.10 <x@parked.example>: Recipient address rejected: Domain parked.example does not accept mail (nullMX)"), (true, "domain_unknown"));
        assert_eq!(read_refusal(Some(550), "550 5.4.4 Unable to route: connect to mx.example.org: Connection refused"), (false, "other"), "a network failure is not an unknown domain");
    }

    #[test]
    fn transient_failures_retry_until_the_last_attempt() {
        let e = SendError::Transient { code: Some(451), message: "451 try later".into() };
        assert!(matches!(after_failure(&e, 1, 3, 60), Outcome::Retry { .. }));
        assert!(matches!(after_failure(&e, 3, 3, 60), Outcome::Failed { .. }));
        let down = SendError::Connection { message: "refused".into() };
        assert!(matches!(after_failure(&down, 3, 3, 60), Outcome::Requeue { .. }), "a down relay burns no attempts");
    }
}
