//! Issues: the list, a draft with its live preview, test copies, the send with its confirmation
//! step, pause, resume, cancel, and the send's progress.

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::Staff;
use super::layout::{csrf, message, number, page, when};
use crate::delivery::status::send_status;
use crate::domain::Permission;
use crate::operations::sends::{self, Control};
use crate::publishing::{self, Format};
use crate::store::Issue;
use crate::web::State;

/// The page's stand-in for a file name: images resolve in the content folder; not a slug.
const DRAFT_STEM: &str = "(draft)";

pub async fn list(staff: Staff, Extract(state): Extract<State>) -> Response {
    let t = staff.t;
    let issues = match state.app.store.all_issues(200).await {
        Ok(i) => i,
        Err(e) => return staff.failure(e),
    };
    let content = html! {
        @if staff.session.identity.role.allows(Permission::Edit) { p { a.button href="/admin/issues/new" { (t.new_draft) } } }
        (issue_table(&staff, &issues))
    };
    page(&staff, "/admin/issues", t.issues, content).into_response()
}

pub fn issue_table(staff: &Staff, issues: &[Issue]) -> Markup {
    let t = staff.t;
    html! {
        div.scroll { table {
            thead { tr { th { (t.issue) } th { (t.list) } th { (t.when) } th { (t.status) } } }
            tbody { @for i in issues { tr {
                td { a href={ "/admin/issues/" (i.slug) } { (i.title) } br; small.muted { (i.slug) } }
                td { (i.list_name) } td { (i.published_on) }
                td { span.status { (t.status_word(&i.status)) } " " @if matches!(i.status.as_str(), "sending" | "paused" | "sent") { a href={ "/admin/issues/" (i.slug) "/progress" } { (t.progress) } } }
            } } }
        } }
    }
}

const TEMPLATE: &str = "+++\nlist = \"\"\nslug = \"\"\ntitle = \"\"\ndate = \"\"\n+++\n\n## \n\n◇ \n";

#[derive(Deserialize, Default)]
pub struct DraftQuery {
    from: Option<String>,
}

pub async fn draft_form(staff: Staff, Extract(state): Extract<State>, Query(q): Query<DraftQuery>) -> Response {
    if let Err(r) = staff.may(Permission::Edit) {
        return r;
    }
    let source = match q.from.as_deref() {
        Some(slug) => match (state.app.store.issue_by_slug(slug).await, state.app.store.issue_markdown(slug).await) {
            (Ok(issue), Ok(markdown)) => publishing::source_text(&issue, &markdown),
            (Err(e), _) | (_, Err(e)) => return staff.failure(e),
        },
        None => TEMPLATE.replace("date = \"\"", &format!("date = {}", chrono::Utc::now().format("%Y-%m-%d"))),
    };
    let lists = state.app.store.lists().await.unwrap_or_default();
    let form = DraftForm { source, ..DraftForm::default() };
    draft_page(&staff, &lists, &form, None, &[], None)
}

fn draft_page(staff: &Staff, lists: &[crate::store::List], form: &DraftForm, preview: Option<&(String, String)>, warnings: &[String], problem: Option<&str>) -> Response {
    let t = staff.t;
    let (html_part, text_part) = preview.map(|(h, t)| (h.as_str(), t.as_str())).unwrap_or_default();
    let content = html! {
        form #draft method="post" action="/admin/issues/new" {
            (csrf(staff))
            label for="source" { (t.markdown) }
            textarea #source name="source" spellcheck="false" { (form.source) }
            fieldset.text-layout {
                legend { (t.text_layout) }
                label for="list" { (t.text_list) }
                select #list name="list" {
                    option value="" { "—" }
                    @for l in lists { option value=(l.slug) selected[l.slug == form.list] { (l.name) " (" (l.slug) ")" } }
                }
                label for="date" { (t.text_date) }
                input #date type="date" name="date" value=(form.date);
            }
            div.actions {
                button.secondary type="submit" name="action" value="preview" { (t.preview) }
                button type="submit" name="action" value="save" { (t.save_draft) }
            }
        }
        p #preview-error.error role="alert" hidden[problem.is_none()] { (problem.unwrap_or_default()) }
        div #preview-warnings.card hidden[warnings.is_empty()] {
            strong { (t.warnings) }
            ul { @for w in warnings { li { (w) } } }
        }
        (previews(t, Some(html_part), None, text_part))
        script src="/admin/static/admin.js" {}
    };
    page(staff, "/admin/issues", t.draft_title, content).into_response()
}

/// The email at desktop and phone widths, and its plain-text part. `srcdoc` for a draft, `src`
/// for a stored issue; sandboxed either way (no scripts, its own origin).
fn previews(t: &super::AdminStrings, srcdoc: Option<&str>, src: Option<&str>, text: &str) -> Markup {
    html! {
        div.previews {
            @for (class, label) in [("desktop", t.desktop), ("phone", t.phone)] {
                figure {
                    figcaption { (label) }
                    iframe class={ "live " (class) } title=(label) sandbox="" srcdoc=[srcdoc] src=[src] {}
                }
            }
            figure { figcaption { (t.text_part) } pre.text #preview-text { (text) } }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct DraftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    action: String,
    /// For a draft in the text layout, which names neither its list nor its date.
    #[serde(default)]
    list: String,
    #[serde(default)]
    date: String,
}

/// Why a draft in the text layout cannot be converted before it reaches the publisher.
enum Draft {
    Ready { markdown: String, warnings: Vec<String> },
    Refused(String),
}

/// The draft as Markdown with front matter: as typed, or converted from the newsletter's text
/// layout (for the list and date of the form's fields).
fn draft_markdown(t: &super::AdminStrings, f: &DraftForm, path: &std::path::Path) -> Draft {
    if !publishing::is_text_layout(path, &f.source) {
        return Draft::Ready { markdown: f.source.clone(), warnings: Vec::new() };
    }
    if f.list.trim().is_empty() {
        return Draft::Refused(t.text_needs_list.to_string());
    }
    let date = match f.date.trim() {
        "" => chrono::Utc::now().date_naive(),
        d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(date) => date,
            Err(_) => return Draft::Refused(format!("{}: {d:?}: YYYY-MM-DD", t.text_date)),
        },
    };
    match publishing::convert_text(path, f.source.as_bytes(), f.list.trim(), date) {
        Ok((converted, _)) => Draft::Ready { markdown: converted.markdown, warnings: converted.warnings.iter().map(ToString::to_string).collect() },
        Err(e) => Draft::Refused(explain(&e, path)),
    }
}

pub async fn draft_submit(staff: Staff, Extract(state): Extract<State>, Form(f): Form<DraftForm>) -> Response {
    if let Err(r) = staff.check(&f.csrf).and_then(|_| staff.may(Permission::Edit)) {
        return r;
    }
    let path = state.app.config.content.issues_dir.join(format!("{DRAFT_STEM}.md"));
    let lists = state.app.store.lists().await.unwrap_or_default();
    let (markdown, warnings) = match draft_markdown(staff.t, &f, &path) {
        Draft::Ready { markdown, warnings } => (markdown, warnings),
        Draft::Refused(problem) => return draft_page(&staff, &lists, &f, None, &[], Some(&problem)),
    };
    if f.action == "save" {
        let may_send = staff.session.identity.role.allows(Permission::Own);
        return match publishing::add_issue_as(&state.app, &path, &markdown, staff.actor(), may_send).await {
            Ok(added) => Redirect::to(&format!("/admin/issues/{}?notice=saved", added.slug)).into_response(),
            Err(e) => draft_page(&staff, &lists, &f, None, &warnings, Some(&explain(&e, &path))),
        };
    }
    match publishing::preview_draft(&state.app, &path, &markdown).await {
        Ok(preview) => draft_page(&staff, &lists, &f, Some(&preview), &warnings, None),
        Err(e) => draft_page(&staff, &lists, &f, None, &warnings, Some(&explain(&e, &path))),
    }
}

/// The error without the stand-in file name, and a hint when the slug is missing.
fn explain(e: &publishing::PublishError, path: &std::path::Path) -> String {
    let text = e.to_string().replace(&format!("{}: ", path.display()), "");
    if text.contains(&format!("{DRAFT_STEM:?} is not a valid slug")) { "line 1: the front matter needs a `slug`".to_string() } else { text }
}

#[derive(serde::Serialize)]
pub struct LivePreview {
    html: String,
    text: String,
    error: Option<String>,
    /// What converting a draft in the text layout found worth a look.
    warnings: Vec<String>,
}

/// The live preview's JSON: the draft rendered as the sample subscriber would see it.
pub async fn live_preview(staff: Staff, Extract(state): Extract<State>, Form(f): Form<DraftForm>) -> Response {
    if let Err(r) = staff.check(&f.csrf).and_then(|_| staff.may(Permission::Edit)) {
        return r;
    }
    let path = state.app.config.content.issues_dir.join(format!("{DRAFT_STEM}.md"));
    let refused = |error: String, warnings: Vec<String>| LivePreview { html: String::new(), text: String::new(), error: Some(error), warnings };
    let answer = match draft_markdown(staff.t, &f, &path) {
        Draft::Refused(problem) => refused(problem, Vec::new()),
        Draft::Ready { markdown, warnings } => match publishing::preview_draft(&state.app, &path, &markdown).await {
            Ok((html, text)) => LivePreview { html, text, error: None, warnings },
            Err(e) => refused(explain(&e, &path), warnings),
        },
    };
    Json(answer).into_response()
}

/// What a redirect back to the issue page may say: a code, never text (a link could otherwise
/// put any words in an error box on our page).
#[derive(Deserialize, Default)]
pub struct Notice {
    notice: Option<String>,
}

pub async fn show(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>, Query(n): Query<Notice>) -> Result<Response, Response> {
    let notice = match n.notice.as_deref() {
        Some("saved") => Some(staff.t.saved),
        Some("test_sent") => Some(staff.t.test_sent),
        Some("done") => Some(staff.t.done),
        _ => None,
    };
    issue_page(&staff, &state, &slug, notice, None).await.map(IntoResponse::into_response)
}

/// The issue's page, with a notice or an error of ours above it.
async fn issue_page(staff: &Staff, state: &State, slug: &str, notice: Option<&str>, error: Option<&str>) -> Result<maud::Markup, Response> {
    let t = staff.t;
    let issue = stored(staff, state, slug).await?;
    let text = publishing::preview(&state.app, slug, Format::Text, None).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let role = staff.session.identity.role;
    let content = html! {
        @if let Some(text) = notice { (message(text, false)) }
        @if let Some(error) = error { (message(error, true)) }
        p { span.status #issue-status { (t.status_word(&issue.status)) } " · " (t.list) " " (issue.list_name) " · " (issue.published_on) " · " code { (issue.slug) } }
        div.actions {
            @if role.allows(Permission::Edit) && matches!(issue.status.as_str(), "draft" | "scheduled") { a.button.secondary href={ "/admin/issues/new?from=" (issue.slug) } { "✎ " (t.draft_title) } }
            @if role.allows(Permission::Own) && matches!(issue.status.as_str(), "draft" | "scheduled") { a.button href={ "/admin/issues/" (issue.slug) "/send" } { (t.send) } }
            @if role.allows(Permission::Own) { (control_buttons(&staff, &issue)) }
            @if matches!(issue.status.as_str(), "sending" | "paused" | "sent") { a.button.secondary href={ "/admin/issues/" (issue.slug) "/progress" } { (t.progress) } }
        }
        @if role.allows(Permission::Edit) {
            form.card.actions method="post" action={ "/admin/issues/" (issue.slug) "/test" } {
                (csrf(&staff))
                div { label for="test" { (t.test_address) } input #test type="email" name="test" value=(staff.session.email) required; }
                div { button.secondary type="submit" { (t.test_send) } }
            }
        }
        (previews(t, None, Some(&format!("/admin/issues/{}/email.html", issue.slug)), &text))
    };
    Ok(page(staff, "/admin/issues", &issue.title, content))
}

fn control_buttons(staff: &Staff, issue: &Issue) -> Markup {
    let t = staff.t;
    let actions: &[(&str, &str)] = match issue.status.as_str() {
        "sending" => &[("pause", t.pause), ("cancel", t.cancel_send)],
        "paused" => &[("resume", t.resume), ("cancel", t.cancel_send)],
        "scheduled" => &[("cancel", t.cancel_send)],
        _ => &[],
    };
    html! {
        @for (action, label) in actions {
            form.inline method="post" action={ "/admin/issues/" (issue.slug) "/control" } {
                (csrf(staff)) input type="hidden" name="action" value=(action);
                button.secondary type="submit" { (label) }
            }
        }
    }
}

/// The issue named in the path, or the page that says why not.
async fn stored(staff: &Staff, state: &State, slug: &str) -> Result<Issue, Response> {
    state.app.store.issue_by_slug(slug).await.map_err(|e| staff.failure(e))
}

/// The email's HTML as the sample subscriber gets it, for the preview frames.
pub async fn email_html(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>) -> Response {
    match publishing::preview(&state.app, &slug, Format::Html, None).await {
        // Opened directly, the editor-written HTML stays as inert as in the sandboxed frame.
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src * data:")], bytes).into_response(),
        Err(publishing::PreviewError::Store(e)) => staff.failure(e),
        Err(e) => staff.refusal(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    test: String,
}

pub async fn test_send(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>, Form(f): Form<TestForm>) -> Result<Response, Response> {
    staff.check(&f.csrf)?;
    staff.may(Permission::Edit)?;
    let issue = stored(&staff, &state, &slug).await?;
    Ok(match sends::send_test(&state.app, &issue, &f.test, staff.actor()).await {
        Ok(_) => Redirect::to(&format!("/admin/issues/{slug}?notice=test_sent")).into_response(),
        // Shown on the page itself, not passed along in a link.
        Err(e) => {
            let status = match &e {
                crate::operations::OpError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                crate::operations::OpError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_GATEWAY,
            };
            (status, issue_page(&staff, &state, &slug, None, Some(&e.to_string())).await?).into_response()
        }
    })
}

/// The confirmation step: names the list and how many people get the issue.
pub async fn send_confirm(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>) -> Result<Response, Response> {
    let t = staff.t;
    staff.may(Permission::Own)?;
    let issue = stored(&staff, &state, &slug).await?;
    let recipients = state.app.store.mailable_count(issue.list_id).await.map_err(|e| staff.failure(e))?;
    let content = html! {
        form.card method="post" action={ "/admin/issues/" (issue.slug) "/send" } {
            (csrf(&staff))
            p #send-question { strong { (t.send_question(&issue.title, &issue.list_name, recipients)) } }
            label for="at" { (t.schedule_at) }
            input #at type="datetime-local" name="at";
            div.actions {
                button #confirm-send type="submit" { (t.send_now) }
                a.button.secondary href={ "/admin/issues/" (issue.slug) } { (t.back) }
            }
        }
    };
    Ok(page(&staff, "/admin/issues", t.send_confirm_title, content).into_response())
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    at: String,
}

pub async fn send(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>, Form(f): Form<SendForm>) -> Result<Response, Response> {
    staff.check(&f.csrf)?;
    staff.may(Permission::Own)?;
    let issue = stored(&staff, &state, &slug).await?;
    let done = if f.at.trim().is_empty() {
        sends::send_now(&state.app, &issue, staff.actor()).await.map(|_| ())
    } else {
        // A datetime-local field has no zone: the browser's local time, taken as UTC here
        // unless it carries an offset.
        let text = if f.at.len() == 16 { format!("{}:00Z", f.at) } else { f.at.clone() };
        match sends::parse_time("at", &text) {
            Ok(at) => sends::schedule(&state.app, &issue, at, staff.actor()).await,
            Err(e) => Err(e),
        }
    };
    // A second click finds the issue sending already: the store refuses a second send.
    done.map_err(|e| staff.failure(e))?;
    Ok(Redirect::to(&format!("/admin/issues/{slug}/progress")).into_response())
}

#[derive(Deserialize)]
pub struct ControlForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

pub async fn control(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>, Form(f): Form<ControlForm>) -> Result<Response, Response> {
    staff.check(&f.csrf)?;
    staff.may(Permission::Own)?;
    let action = Control::parse(&f.action).ok_or_else(|| staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, &f.action))?;
    let issue = stored(&staff, &state, &slug).await?;
    sends::control(&state.app, &issue, action, staff.actor()).await.map_err(|e| staff.failure(e))?;
    Ok(Redirect::to(&format!("/admin/issues/{slug}?notice=done")).into_response())
}

pub async fn progress(staff: Staff, Extract(state): Extract<State>, Path(slug): Path<String>) -> Result<Response, Response> {
    let t = staff.t;
    let s = send_status(&state.app, &slug).await.map_err(|e| staff.failure(e))?;
    let issue = stored(&staff, &state, &slug).await?;
    let d = &s.deliveries;
    let done = s.total - d.remaining();
    let percent = if s.total > 0 { done * 100 / s.total } else { 0 };
    let live = matches!(s.status.as_str(), "sending" | "scheduled");
    let curve = super::dashboard::curve_chart(&staff, &state, issue.id).await;
    let content = html! {
        @if live { meta http-equiv="refresh" content="2"; }
        div.card {
            p { span.status #send-status { (t.status_word(&s.status)) } " · " strong #percent { (percent) "%" } " · " (number(done)) " / " (number(s.total)) }
            progress max=(s.total.max(1)) value=(done) aria-label=(t.progress) {}
            div.scroll { table {
                thead { tr { th.num { (t.queued) } th.num { (t.sent) } th.num { (t.failed) } th.num { (t.bounced) } th.num { (t.skipped) } th.num { (t.rate) } th.num { (t.eta) } } }
                tbody { tr {
                    td.num { (number(d.queued + d.sending)) } td.num #sent { (number(d.sent)) } td.num { (number(d.failed)) } td.num { (number(d.bounced)) } td.num { (number(d.skipped)) }
                    td.num { (number(s.rate_per_minute)) } td.num { (s.eta_seconds.map(|e| format!("{}:{:02}", e / 60, e % 60)).unwrap_or_else(|| "–".into())) }
                } }
            } }
            div.actions { @if staff.session.identity.role.allows(Permission::Own) { (control_buttons(&staff, &issue)) } a.button.secondary href={ "/admin/issues/" (issue.slug) } { (t.back) } }
        }
        @if !s.top_errors.is_empty() {
            h2 { (t.top_errors) }
            table { tbody { @for e in &s.top_errors { tr { td.num { (e.count) } td { (e.error) } } } } }
        }
        (curve)
        p.muted { (when(Some(chrono::Utc::now()))) " UTC" }
    };
    Ok(page(&staff, "/admin/issues", &format!("{} · {}", t.progress, issue.title), content).into_response())
}
