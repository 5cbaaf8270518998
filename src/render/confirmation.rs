//! The double opt-in email: one short message in the list's language with one link. Rendered
//! per sign-up (there is nothing to share between them), with its styles written inline.

use maud::{DOCTYPE, html};

use super::i18n::Strings;
use super::wrap::wrap;

pub struct ConfirmationMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct ConfirmationView<'a> {
    pub language: &'a str,
    pub list_name: &'a str,
    pub email: &'a str,
    pub confirm_url: &'a str,
    pub site_title: &'a str,
    pub postal_address: &'a str,
}

pub fn render(v: &ConfirmationView<'_>) -> ConfirmationMail {
    let s = Strings::for_language(v.language);
    let subject = s.confirm_subject(v.list_name);
    let (before, after) = s.confirm_text(v.list_name, v.email);
    let text = format!("{subject}\n\n{}\n\n{}\n\n{}\n\n-- \n{}\n{}\n", wrap(&before, "", ""), v.confirm_url, wrap(after, "", ""), v.site_title, v.postal_address);
    let html = html! {
        (DOCTYPE)
        html lang=(v.language) {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; title { (subject) } }
            body style="margin:0;padding:24px;background:#f4f4f1;font-family:-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Helvetica Neue',Arial,sans-serif;color:#1d1d1b;line-height:1.6" {
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" { tr { td align="center" {
                    table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;width:100%;background:#ffffff;border-radius:6px" {
                        tr { td style="padding:28px 32px" {
                            h1 style="font-size:20px;margin:0 0 16px" { (subject) }
                            p style="margin:0 0 24px" { (before) }
                            p style="margin:0 0 24px" {
                                a href=(v.confirm_url) style="display:inline-block;padding:12px 22px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:4px;font-weight:bold" { (s.confirm_button()) }
                            }
                            p style="margin:0 0 24px;font-size:13px;color:#555555;word-break:break-all" { a href=(v.confirm_url) style="color:#0b5cad" { (v.confirm_url) } }
                            p style="margin:0;font-size:13px;color:#555555" { (after) }
                        } }
                        tr { td style="padding:16px 32px;border-top:1px solid #e5e5e0;font-size:12px;color:#6b6b66" { (v.site_title) " · " (v.postal_address) } }
                    }
                } } }
            }
        }
    }
    .into_string();
    ConfirmationMail { subject, text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(language: &str) -> ConfirmationMail {
        render(&ConfirmationView {
            language,
            list_name: "中国科技通讯 <CSTN>",
            email: "li@example.cn",
            confirm_url: "https://news.example.org/confirm/abc",
            site_title: "Tidings",
            postal_address: "1 Example Road",
        })
    }

    #[test]
    fn speaks_the_list_language_and_carries_the_link_in_both_parts() {
        let zh = view("zh-CN");
        assert_eq!(zh.subject, "请确认订阅《中国科技通讯 <CSTN>》");
        assert!(zh.text.contains("https://news.example.org/confirm/abc") && zh.html.contains("href=\"https://news.example.org/confirm/abc\""));
        assert!(zh.html.contains("&lt;CSTN&gt;"), "names are escaped in HTML");
        assert!(view("en").subject.starts_with("Confirm your subscription"));
    }
}
