//! Any text given as an issue file takes the path `tidings issue add` gives it: front matter
//! parsed, the body's shape checked, its images listed, then the body rendered to the web HTML,
//! the email HTML and the plain text. No panic, no stack overflow, no slow input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings::domain::IssueSource;
use tidings::render::issue::{IssueView, Site, render};
use tidings::render::markdown::{check_shape, relative_images};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let site = Site::new("https://news.example.org/", "中国科技通讯", "1 Example Road, Example City");
    match IssueSource::parse(text, "2021-01") {
        Ok(source) => {
            if check_shape(&source.body).is_err() {
                return;
            }
            let _ = relative_images(&source.body);
            // The file's language, else its list's (a list is English unless it says otherwise).
            let language = source.language.as_ref().map_or_else(|| "en".to_string(), ToString::to_string);
            let view = IssueView::of_source(&source, &language, "CSTN");
            let _ = render(&view, &source.body, &site);
        }
        // Most mutations break the front matter; render the whole text as a body as well, so the
        // Markdown path is exercised by every input and not only by the few that still parse.
        Err(_) => {
            if check_shape(text).is_err() {
                return;
            }
            let date = chrono::NaiveDate::from_ymd_opt(2021, 1, 31).expect("a calendar date");
            let view = IssueView { slug: "2021-01", title: "标题", subtitle: "", volume: Some(824), number: Some(1), date, language: "zh-CN", summary: "", list_name: "CSTN" };
            let _ = relative_images(text);
            let _ = render(&view, text, &site);
        }
    }
});
