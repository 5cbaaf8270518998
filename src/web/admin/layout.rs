//! The frame of every staff page: navigation, who is signed in, the logout button.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Staff;
use super::strings::AdminStrings;
use crate::domain::Role;

const CSS: &str = include_str!("../../../templates/admin.css");

pub fn page(staff: &Staff, current: &str, title: &str, content: Markup) -> Markup {
    let t = staff.t;
    let mut nav = vec![("/admin", t.dashboard), ("/admin/lists", t.lists), ("/admin/subscribers", t.subscribers), ("/admin/import", t.import), ("/admin/issues", t.issues), ("/admin/bounces", t.bounces)];
    if staff.session.identity.role == Role::Owner {
        nav.push(("/admin/staff", t.staff));
    }
    html! {
        (DOCTYPE)
        html lang=(t.lang) {
            (head(t, title))
            body {
                a.skip href="#main" { (t.skip) }
                header.bar {
                    strong { (t.product) }
                    nav aria-label=(t.dashboard) {
                        @for (href, label) in &nav {
                            a href=(href) aria-current=[(*href == current).then_some("page")] { (label) }
                        }
                    }
                    span.who { (t.signed_in(&staff.session.email, staff.session.identity.role.as_str())) }
                    form.inline method="post" action="/admin/logout" {
                        input type="hidden" name="csrf" value=(staff.session.csrf);
                        button.secondary type="submit" style="color:#fff;border-color:#fff" { (t.logout) }
                    }
                }
                main #main { h1 { (title) } (content) }
            }
        }
    }
}

pub fn head(t: &AdminStrings, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="robots" content="noindex";
            title { (title) " · " (t.product) }
            style { (PreEscaped(CSS)) }
        }
    }
}

/// A notice (`error` false) or an error line.
pub fn message(text: &str, error: bool) -> Markup {
    html! { p class=(if error { "error" } else { "notice" }) role=(if error { "alert" } else { "status" }) { (text) } }
}

/// The session's anti-forgery field, in every form.
pub fn csrf(staff: &Staff) -> Markup {
    html! { input type="hidden" name="csrf" value=(staff.session.csrf); }
}

pub fn number(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// A value as one URL path segment: an address may hold `/`, `?`, `#`, `%` or `..`, and must
/// never reach another path than its own.
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_~@+".contains(&byte) || (byte == b'.' && value != "." && value != "..") {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn an_address_stays_one_path_segment() {
        assert_eq!(segment("li.wei@example.cn"), "li.wei@example.cn");
        assert_eq!(segment("\"x/../victim@real.org/unsubscribe#\"@evil.com"), "%22x%2F..%2Fvictim@real.org%2Funsubscribe%23%22@evil.com");
        assert_eq!(segment("a?b%c d"), "a%3Fb%25c%20d");
    }
}
