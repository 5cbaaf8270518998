//! The reader's pages around a subscription: the subscribe form, the answers to links, the
//! unsubscribe button, the preferences form, and error pages. Pure: values in, HTML out.

use maud::{Markup, html};

use super::i18n::{PageStrings, Strings};
use super::issue::Site;
use super::layout::{self, PageFrame};

/// A form's hidden anti-forgery value, and where the form posts.
pub struct FormGuard<'a> {
    pub action: &'a str,
    pub csrf: &'a str,
}

pub struct SubscribeForm<'a> {
    /// (slug, name) of the public lists.
    pub lists: &'a [(String, String)],
    pub selected: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub error: Option<&'a str>,
}

pub struct Choice<'a> {
    pub id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub on: bool,
    /// A private list the person is confirmed on: their own feed of it.
    pub feed_url: Option<String>,
}

fn frame<'a>(site: &'a Site, p: &'a PageStrings, title: &'a str) -> PageFrame<'a> {
    PageFrame { language: p.lang, title, site_title: &site.title, base_url: &site.base_url, strings: Strings::for_language(p.lang), postal_address: &site.postal_address }
}

fn page(site: &Site, p: &PageStrings, title: &str, content: Markup) -> String {
    layout::page(&frame(site, p, title), html! { main { (content) } }).into_string()
}

pub fn subscribe_page(site: &Site, p: &PageStrings, form: &SubscribeForm<'_>, guard: &FormGuard<'_>) -> String {
    let content = html! {
        h1 { (p.subscribe_heading) }
        p { (p.subscribe_intro) }
        @if let Some(error) = form.error { p.error role="alert" id="form-error" { (error) } }
        form.card method="post" action=(guard.action) {
            input type="hidden" name="csrf" value=(guard.csrf);
            label for="email" { (p.email_label)
                input #email type="email" name="email" required autocomplete="email" value=(form.email) aria-describedby=[form.error.map(|_| "form-error")];
            }
            label for="name" { (p.name_label)
                input #name type="text" name="name" autocomplete="name" maxlength="200" value=(form.name);
            }
            @if form.lists.len() == 1 {
                input type="hidden" name="list" value=(form.lists[0].0);
            } @else {
                label for="list" { (p.list_label)
                    select #list name="list" {
                        @for (slug, name) in form.lists {
                            option value=(slug) selected[slug == form.selected] { (name) }
                        }
                    }
                }
            }
            // People do not see this field; form-filling robots do.
            div.trap aria-hidden="true" {
                label for="website" { (p.trap_label) input #website type="text" name="website" tabindex="-1" autocomplete="off"; }
            }
            button type="submit" { (p.subscribe_button) }
        }
    };
    page(site, p, p.subscribe_heading, content)
}

/// A heading and a paragraph: the answer to a form or a link.
pub fn notice_page(site: &Site, p: &PageStrings, heading: &str, text: &str, link: Option<(&str, &str)>) -> String {
    let content = html! {
        h1 { (heading) }
        p { (text) }
        @if let Some((url, label)) = link { p { a href=(url) { (label) } } }
    };
    page(site, p, heading, content)
}

/// The page a confirmation link opens: link scanners open every link in a mail, so only the
/// button confirms.
pub fn confirm_page(site: &Site, p: &PageStrings, list_name: &str, action: &str) -> String {
    let heading = p.confirm_heading(list_name);
    let content = html! {
        h1 { (heading) }
        p { (p.confirm_page_text(list_name)) }
        form.card method="post" action=(action) {
            button type="submit" { (p.confirm_page_button()) }
        }
    };
    page(site, p, &heading, content)
}

/// The page an unsubscribe link opens: it changes nothing until the button is pressed.
pub fn unsubscribe_page(site: &Site, p: &PageStrings, list_name: &str, action: &str) -> String {
    let heading = p.unsubscribe_heading(list_name);
    let content = html! {
        h1 { (heading) }
        p { (p.unsubscribe_text(list_name)) }
        form.card method="post" action=(action) {
            input type="hidden" name="List-Unsubscribe" value="One-Click";
            button type="submit" { (p.unsubscribe_button) }
        }
    };
    page(site, p, &heading, content)
}

pub fn preferences_page(site: &Site, p: &PageStrings, email: &str, choices: &[Choice<'_>], notice: Option<&str>, guard: &FormGuard<'_>) -> String {
    let content = html! {
        h1 { (p.preferences_heading) }
        p { (p.preferences_text(email)) }
        @if let Some(notice) = notice { p role="status" { (notice) } }
        form.card method="post" action=(guard.action) {
            input type="hidden" name="csrf" value=(guard.csrf);
            fieldset {
                legend { (p.list_label) }
                @for c in choices {
                    label {
                        input type="checkbox" name="list" value=(c.id) checked[c.on];
                        span {
                            strong { (c.name) } @if !c.description.is_empty() { br; span.hint { (c.description) } }
                            @if let Some(url) = &c.feed_url { br; span.hint { (p.personal_feed) ": " a href=(url) { (url) } } }
                        }
                    }
                }
            }
            button type="submit" name="action" value="save" { (p.save_button) }
            button.secondary type="submit" name="action" value="leave_all" { (p.leave_all_button) }
        }
    };
    page(site, p, p.preferences_heading, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site::new("https://news.example.org", "Tidings", "1 Example Road")
    }

    #[test]
    fn the_form_escapes_what_the_reader_typed_and_hides_the_trap() {
        let lists = vec![("cstn".to_string(), "中国科技通讯".to_string()), ("en".to_string(), "English".to_string())];
        let form = SubscribeForm { lists: &lists, selected: "en", email: "\"><script>x</script>", name: "", error: Some("bad") };
        let html = subscribe_page(&site(), PageStrings::for_language("zh"), &form, &FormGuard { action: "/subscribe", csrf: "tok" });
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("lang=\"zh-CN\"") && html.contains("name=\"website\"") && html.contains("value=\"tok\""));
        assert!(html.contains("<option value=\"en\" selected>"), "{html}");
    }

    #[test]
    fn the_unsubscribe_page_posts_the_one_click_body() {
        let html = unsubscribe_page(&site(), PageStrings::for_language("en"), "News", "/unsubscribe/abc");
        assert!(html.contains("action=\"/unsubscribe/abc\"") && html.contains("name=\"List-Unsubscribe\" value=\"One-Click\""));
    }
}
