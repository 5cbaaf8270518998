//! Benchmark: render the sample issue once, then personalise and serialise complete MIME messages
//! in memory, on one core. Run: `cargo bench --bench personalise [-- MESSAGES]`.
//!
//! The reference, measured in the same run, is copying the same number of bytes into fresh
//! buffers: the floor for producing one whole message per recipient.

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use tidings::delivery::message::{IssueMail, MessageFactory, Recipient};
use tidings::domain::token::Keys;
use tidings::domain::{EmailAddress, IssueSource, SubscriberName};
use tidings::render::issue::{IssueView, Site, render};

fn main() {
    let messages: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/content/issues/2021-01.md");
    let text = std::fs::read_to_string(path).expect("the sample issue");
    let source = IssueSource::parse(&text, "2021-01").expect("the sample parses");
    let site = Site::new("https://news.example.org", "Tidings", "1 Example Road");
    let view = IssueView::of_source(&source, "zh-CN", "中国科技通讯", false);
    let started = Instant::now();
    let rendered = render(&view, &source.body, &site).expect("renders");
    let render_time = started.elapsed();
    let mail = IssueMail {
        issue_id: 1,
        issue_slug: "2021-01",
        list_id: 1,
        list_slug: "cstn",
        list_name: "中国科技通讯",
        subject: &source.title,
        email_html: &rendered.email_html,
        email_text: &rendered.email_text,
        base_url: "https://news.example.org",
        from: "中国科技通讯 <newsletter@news.example.org>",
        reply_to: "",
        return_path_domain: "bounces.news.example.org",
    };
    let factory = MessageFactory::new(&mail, Keys::new(b"bench-key".to_vec(), vec![])).expect("factory");
    let recipients: Vec<(EmailAddress, SubscriberName)> = (0..1000)
        .map(|i| (EmailAddress::parse(&format!("reader{i}@example{}.com", i % 7)).unwrap(), SubscriberName::parse(if i % 2 == 0 { "王小明" } else { "Ada Lovelace" }).unwrap()))
        .collect();

    let now = Utc::now();
    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..messages {
        let (email, name) = &recipients[i % recipients.len()];
        let message = factory.message(&Recipient { subscriber_id: i as i64 + 1, email, name }, now, false).expect("message");
        bytes += message.bytes.len();
        black_box(message);
    }
    let ours = started.elapsed();

    let sample = factory.message(&Recipient { subscriber_id: 1, email: &recipients[0].0, name: &recipients[0].1 }, now, false).unwrap().bytes;
    let started = Instant::now();
    for _ in 0..messages {
        black_box(sample.clone());
    }
    let reference = started.elapsed();

    let rate = messages as f64 / ours.as_secs_f64();
    let reference_rate = messages as f64 / reference.as_secs_f64();
    println!("render once: {:.1} ms; message size: {} bytes", render_time.as_secs_f64() * 1e3, bytes / messages);
    println!("personalised messages: {messages} in {:.2} s = {rate:.0} messages/s (goal >= 50000)", ours.as_secs_f64());
    println!("reference (copy the same bytes): {reference_rate:.0} messages/s; ratio ours/reference = {:.3}", rate / reference_rate);
}
