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
    pub private_feed: &'static str,
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
    private_feed: "您的私人订阅源",
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
    private_feed: "Your private feed",
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

/// The words of the public pages (subscribe, confirm, leave, preferences, errors).
pub struct PageStrings {
    pub lang: &'static str,
    pub subscribe_heading: &'static str,
    pub subscribe_intro: &'static str,
    pub email_label: &'static str,
    pub name_label: &'static str,
    pub list_label: &'static str,
    pub subscribe_button: &'static str,
    pub check_inbox_heading: &'static str,
    pub check_inbox_text: &'static str,
    pub confirmed_heading: &'static str,
    pub not_pending_text: &'static str,
    pub bad_link_heading: &'static str,
    pub bad_link_text: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribed_heading: &'static str,
    pub manage_link: &'static str,
    pub preferences_heading: &'static str,
    pub save_button: &'static str,
    pub leave_all_button: &'static str,
    pub personal_feed: &'static str,
    pub saved: &'static str,
    pub too_many_heading: &'static str,
    pub too_many_text: &'static str,
    pub bad_form_heading: &'static str,
    pub form_expired: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_text: &'static str,
    pub invalid_email: &'static str,
    pub unknown_list: &'static str,
    pub trap_label: &'static str,
    chinese: bool,
}

const ZH_PAGES: PageStrings = PageStrings {
    lang: "zh-CN",
    subscribe_heading: "订阅",
    subscribe_intro: "每期出版后通过邮件发送给您。我们会先发一封确认邮件，确认之前不会再发送其他邮件。",
    email_label: "电子邮箱",
    name_label: "称呼（可选）",
    list_label: "刊物",
    subscribe_button: "订阅",
    check_inbox_heading: "请查收确认邮件",
    check_inbox_text: "如果这个地址可以订阅，确认邮件已经发出。请点击邮件中的链接完成订阅。没有收到？请查看垃圾邮件，或 15 分钟后再试。",
    confirmed_heading: "订阅成功",
    not_pending_text: "这个订阅已不在等待确认：它可能已经确认，或已经退订。",
    bad_link_heading: "链接无效",
    bad_link_text: "链接可能不完整、被改动或已过期。请从订阅页面重新订阅，或使用较新邮件中的链接。",
    unsubscribe_button: "确认退订",
    unsubscribed_heading: "已退订",
    manage_link: "管理全部订阅",
    preferences_heading: "订阅管理",
    save_button: "保存",
    leave_all_button: "全部退订",
    personal_feed: "您的私人订阅源（请勿分享）",
    saved: "已保存。",
    too_many_heading: "请求过于频繁",
    too_many_text: "请稍等一分钟再试。",
    bad_form_heading: "表单有误",
    form_expired: "表单已过期，请重新提交。",
    not_found_heading: "页面不存在",
    not_found_text: "您要找的页面不存在或尚未发布。",
    invalid_email: "邮箱地址无效",
    unknown_list: "没有这份刊物",
    trap_label: "请勿填写此栏",
    chinese: true,
};

const EN_PAGES: PageStrings = PageStrings {
    lang: "en",
    subscribe_heading: "Subscribe",
    subscribe_intro: "Get each new issue by email. We send a confirmation first, and nothing else until you confirm.",
    email_label: "Email address",
    name_label: "Name (optional)",
    list_label: "Newsletter",
    subscribe_button: "Subscribe",
    check_inbox_heading: "Check your inbox",
    check_inbox_text: "If this address can be subscribed, a confirmation email is on its way. Click the link inside to confirm. Nothing arrived? Look in your spam folder, or try again in 15 minutes.",
    confirmed_heading: "You are subscribed",
    not_pending_text: "This subscription is no longer waiting for a confirmation: it was confirmed already, or left.",
    bad_link_heading: "This link does not work",
    bad_link_text: "It may be incomplete, altered or expired. Subscribe again from the form, or use the link in a more recent email.",
    unsubscribe_button: "Unsubscribe",
    unsubscribed_heading: "You are unsubscribed",
    manage_link: "Manage all your subscriptions",
    preferences_heading: "Your subscriptions",
    save_button: "Save",
    leave_all_button: "Unsubscribe from everything",
    personal_feed: "Your private feed (do not share it)",
    saved: "Saved.",
    too_many_heading: "Too many requests",
    too_many_text: "Please wait a minute and try again.",
    bad_form_heading: "Something is wrong in the form",
    form_expired: "The form expired; please send it again.",
    not_found_heading: "Page not found",
    not_found_text: "The page you are looking for does not exist or is not published yet.",
    invalid_email: "This is not a valid email address",
    unknown_list: "There is no such newsletter",
    trap_label: "Leave this field empty",
    chinese: false,
};

impl PageStrings {
    pub fn for_language(tag: &str) -> &'static PageStrings {
        if tag.to_ascii_lowercase().starts_with("zh") { &ZH_PAGES } else { &EN_PAGES }
    }

    /// The reader's language from `Accept-Language` (Chinese or English, by the first of the two
    /// the browser prefers), else `fallback`.
    pub fn negotiate(accept_language: Option<&str>, fallback: &str) -> &'static PageStrings {
        let mut ranked: Vec<(f32, &str)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let q = pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
                (!tag.is_empty()).then_some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let known = ranked.iter().map(|(_, t)| t.to_ascii_lowercase()).find(|t| t.starts_with("zh") || t.starts_with("en"));
        Self::for_language(known.as_deref().unwrap_or(fallback))
    }

    pub fn confirmed_text(&self, list: &str) -> String {
        if self.chinese { format!("谢谢！《{list}》的每一期都会发到您的邮箱。") } else { format!("Thank you: every issue of {list} will come to your inbox.") }
    }

    pub fn confirm_heading(&self, list: &str) -> String {
        if self.chinese { format!("确认订阅《{list}》？") } else { format!("Subscribe to {list}?") }
    }

    pub fn confirm_page_text(&self, list: &str) -> String {
        if self.chinese { format!("点击下面的按钮，完成《{list}》的订阅。") } else { format!("One click below and every issue of {list} comes to your inbox.") }
    }

    pub fn confirm_page_button(&self) -> &'static str {
        if self.chinese { "确认订阅" } else { "Confirm my subscription" }
    }

    pub fn unsubscribe_heading(&self, list: &str) -> String {
        if self.chinese { format!("退订《{list}》？") } else { format!("Unsubscribe from {list}?") }
    }

    pub fn unsubscribe_text(&self, list: &str) -> String {
        if self.chinese { format!("点击下面的按钮，这个地址就不会再收到《{list}》。") } else { format!("One click below and this address gets no more issues of {list}.") }
    }

    pub fn unsubscribed_text(&self, list: &str) -> String {
        if self.chinese { format!("《{list}》不会再发给您。改变主意了？可以在订阅管理中重新订阅。") } else { format!("{list} will not be sent to you any more. Changed your mind? You can subscribe again from your subscriptions page.") }
    }

    pub fn preferences_text(&self, email: &str) -> String {
        if self.chinese { format!("选择 {email} 要接收的刊物。") } else { format!("Choose the newsletters {email} receives.") }
    }
}

#[cfg(test)]
mod page_tests {
    use super::PageStrings;

    #[test]
    fn negotiates_by_quality_and_falls_back() {
        assert_eq!(PageStrings::negotiate(Some("fr-FR, zh-CN;q=0.8, en;q=0.9"), "zh-CN").lang, "en");
        assert_eq!(PageStrings::negotiate(Some("zh-TW,zh;q=0.9"), "en").lang, "zh-CN");
        assert_eq!(PageStrings::negotiate(Some("de"), "zh-CN").lang, "zh-CN");
        assert_eq!(PageStrings::negotiate(None, "en").lang, "en");
    }
}
