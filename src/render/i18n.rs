//! The words around an issue, in Chinese or English by the issue's language.

use chrono::{Datelike, NaiveDate};

pub struct Strings {
    pub view_in_browser: &'static str,
    pub unsubscribe: &'static str,
    pub preferences: &'static str,
    pub archive: &'static str,
    pub newer: &'static str,
    pub older: &'static str,
    pub subscribe: &'static str,
    pub feeds: &'static str,
    pub links: &'static str,
    pub notes: &'static str,
    /// After a label: a full-width colon in Chinese.
    pub colon: &'static str,
    chinese: bool,
}

const ZH: Strings = Strings {
    view_in_browser: "在浏览器中阅读",
    unsubscribe: "退订",
    preferences: "管理订阅",
    archive: "往期",
    newer: "较新",
    older: "较早",
    subscribe: "订阅",
    feeds: "RSS / Atom 订阅源",
    links: "链接",
    notes: "注释",
    colon: "：",
    chinese: true,
};

const EN: Strings = Strings {
    view_in_browser: "Read it in your browser",
    unsubscribe: "Unsubscribe",
    preferences: "Manage your subscription",
    archive: "Archive",
    newer: "Newer",
    older: "Older",
    subscribe: "Subscribe",
    feeds: "RSS / Atom feeds",
    links: "Links",
    notes: "Notes",
    colon: ": ",
    chinese: false,
};

impl Strings {
    pub fn for_language(tag: &str) -> &'static Strings {
        if tag.to_ascii_lowercase().starts_with("zh") { &ZH } else { &EN }
    }

    /// "You get this because …": names the address (a slot) and the list.
    pub fn why_received(&self, email: &str, list: &str) -> String {
        if self.chinese {
            format!("您收到这封邮件，是因为 {email} 订阅了《{list}》。")
        } else {
            format!("You are receiving this because {email} subscribed to {list}.")
        }
    }

    pub fn date(&self, date: NaiveDate) -> String {
        if self.chinese {
            format!("{} 年 {} 月 {} 日", date.year(), date.month(), date.day())
        } else {
            date.format("%-d %B %Y").to_string()
        }
    }

    /// The masthead's line: volume, number and date, each only when known.
    pub fn issue_line(&self, volume: Option<i64>, number: Option<i64>, date: NaiveDate) -> String {
        let mut parts = Vec::new();
        if let Some(v) = volume {
            parts.push(if self.chinese { format!("总第 {v} 期") } else { format!("Volume {v}") });
        }
        if let Some(n) = number {
            parts.push(if self.chinese { format!("{} 年第 {n} 期", date.year()) } else { format!("No. {n}") });
        }
        parts.push(self.date(date));
        parts.join(" · ")
    }

    pub fn page_of(&self, page: i64, pages: i64) -> String {
        if self.chinese { format!("第 {page} / {pages} 页") } else { format!("Page {page} of {pages}") }
    }

    pub fn confirm_subject(&self, list: &str) -> String {
        if self.chinese { format!("请确认订阅《{list}》") } else { format!("Confirm your subscription to {list}") }
    }

    /// The confirmation email's paragraphs before and after its button.
    pub fn confirm_text(&self, list: &str, email: &str) -> (String, &'static str) {
        if self.chinese {
            (
                format!("有人（希望是您）用 {email} 订阅了《{list}》。请点击下面的按钮确认，确认之后才会收到邮件。"),
                "如果这不是您本人的操作，请忽略这封邮件：不确认就不会再收到我们的邮件。链接 7 天内有效。",
            )
        } else {
            (
                format!("Someone, hopefully you, asked for {email} to receive {list}. Please confirm with the button below; nothing is sent until you do."),
                "If this was not you, ignore this email: without a confirmation you will get nothing more from us. The link works for 7 days.",
            )
        }
    }

    pub fn confirm_button(&self) -> &'static str {
        if self.chinese { "确认订阅" } else { "Confirm my subscription" }
    }
}
