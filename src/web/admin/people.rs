//! Lists, subscribers, imports, staff and tokens.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::Staff;
use super::layout::{csrf, message, number, page, segment, when};
use crate::domain::{EmailAddress, ListSlug, Permission, Role};
use crate::operations::lists::{ListInput, create_list as create};
use crate::staff::{Secret256, hash_password};
use crate::store::{SubscriberQuery, StoreError};
use crate::web::State;

#[derive(Deserialize, Default)]
pub struct Notice {
    notice: Option<String>,
}

fn notice_text(staff: &Staff, notice: &Notice) -> Option<&'static str> {
    match notice.notice.as_deref()? {
        "saved" => Some(staff.t.saved),
        "erased" => Some(staff.t.erased),
        "done" => Some(staff.t.done),
        _ => None,
    }
}

pub async fn lists(staff: Staff, Extract(state): Extract<State>, Query(n): Query<Notice>) -> Response {
    let t = staff.t;
    let (lists, counted_at) = match state.app.store.list_counts_summary().await {
        Ok(l) => l,
        Err(e) => return staff.failure(e),
    };
    let content = html! {
        @if let Some(text) = notice_text(&staff, &n) { (message(text, false)) }
        p.muted { (t.counted_at) " " (when(counted_at)) " UTC" }
        div.scroll { table {
            thead { tr { th { (t.name) } th { (t.slug) } th { (t.language) } th.num { (t.confirmed) } th.num { (t.pending) } th.num { (t.unsubscribed) } th.num { (t.bounced) } th.num { (t.complained) } } }
            tbody { @for l in &lists { tr {
                td { a href={ "/admin/subscribers?list=" (l.slug) } { (l.name) } } td { code { (l.slug) } } td { (l.language) }
                td.num { (number(l.confirmed)) } td.num { (number(l.pending)) } td.num { (number(l.unsubscribed)) } td.num { (number(l.bounced)) } td.num { (number(l.complained)) }
            } } }
        } }
        @if staff.session.identity.role.allows(Permission::Edit) {
            h2 { (t.new_list) }
            form.card method="post" action="/admin/lists" {
                (csrf(&staff))
                label for="slug" { (t.slug) } input #slug type="text" name="slug" required pattern="[a-z0-9][a-z0-9_-]{0,63}";
                label for="name" { (t.name) } input #name type="text" name="name" required;
                label for="language" { (t.language) } input #language type="text" name="language" value=(state.app.config.site.default_language);
                label for="description" { (t.description) } input #description type="text" name="description";
                p { button type="submit" { (t.create) } }
            }
        }
    };
    page(&staff, "/admin/lists", t.lists, content).into_response()
}

#[derive(Deserialize)]
pub struct NewListForm {
    #[serde(default)]
    csrf: String,
    slug: String,
    name: String,
    language: Option<String>,
    #[serde(default)]
    description: String,
}

pub async fn create_list(staff: Staff, Extract(state): Extract<State>, Form(f): Form<NewListForm>) -> Response {
    if let Err(r) = staff.check(&f.csrf).and_then(|_| staff.may(Permission::Edit)) {
        return r;
    }
    let input = ListInput { slug: &f.slug, name: &f.name, language: f.language.as_deref().filter(|l| !l.is_empty()), description: &f.description, public: true };
    match create(&state.app.store, input, &state.app.config.site.default_language, staff.actor()).await {
        Ok(_) => Redirect::to("/admin/lists?notice=saved").into_response(),
        Err(e) => staff.failure(e),
    }
}

#[derive(Deserialize, Default)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    list: String,
    #[serde(default)]
    status: String,
    after: Option<String>,
}

const PAGE: i64 = 50;

pub async fn search(staff: Staff, Extract(state): Extract<State>, Query(f): Query<SearchForm>) -> Response {
    let t = staff.t;
    let store = &state.app.store;
    let lists = match store.lists().await {
        Ok(l) => l,
        Err(e) => return staff.failure(e),
    };
    let list_id = match ListSlug::parse(&f.list) {
        Ok(slug) => match store.list_by_slug(&slug).await {
            Ok(l) => Some(l.id),
            Err(e) => return staff.failure(e),
        },
        Err(_) => None,
    };
    let status = Some(f.status.as_str()).filter(|s| ["pending", "confirmed", "unsubscribed", "active", "bounced", "complained"].contains(s));
    let query = SubscriberQuery { list_id, status, prefix: Some(f.q.trim()).filter(|q| !q.is_empty()), after: f.after.as_deref(), limit: PAGE + 1 };
    let mut rows = match store.search_subscribers(&query).await {
        Ok(r) => r,
        Err(e) => return staff.failure(e),
    };
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = more.then(|| rows.last().map(|r| r.email_key.clone())).flatten();
    let statuses = [("", t.any_status), ("confirmed", t.confirmed), ("pending", t.pending), ("unsubscribed", t.unsubscribed), ("bounced", t.bounced), ("complained", t.complained)];
    let content = html! {
        form.card.actions method="get" action="/admin/subscribers" role="search" {
            div { label for="q" { (t.search_label) } input #q type="search" name="q" value=(f.q); }
            div { label for="list" { (t.list) } select #list name="list" {
                option value="" { (t.all_lists) }
                @for l in &lists { option value=(l.slug) selected[l.slug == f.list] { (l.name) } }
            } }
            div { label for="status" { (t.status) } select #status name="status" {
                @for (value, label) in statuses { option value=(value) selected[value == f.status] { (label) } }
            } }
            div { button type="submit" { (t.search) } }
        }
        div.scroll { table {
            thead { tr { th { (t.email) } th { (t.name) } th { (t.status) } th { (t.created) } } }
            tbody { @for r in &rows { tr {
                td { a href={ "/admin/subscribers/" (segment(&r.email)) } { (r.email) } } td { (r.name) } td { (r.status) } td { (when(Some(r.created_at))) }
            } } }
        } }
        @if let Some(after) = next {
            p { a.button.secondary href={ "/admin/subscribers?q=" (urlencode(&f.q)) "&list=" (urlencode(&f.list)) "&status=" (urlencode(&f.status)) "&after=" (urlencode(&after)) } { (t.next_page) } }
        }
    };
    page(&staff, "/admin/subscribers", t.subscribers, content).into_response()
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn subscriber(staff: Staff, Extract(state): Extract<State>, Path(email): Path<String>, Query(n): Query<Notice>) -> Response {
    let t = staff.t;
    let Ok(address) = EmailAddress::parse(&email) else { return staff.refusal(StatusCode::NOT_FOUND, t.not_found) };
    let d = match state.app.store.subscriber_detail(&address).await {
        Ok(d) => d,
        Err(StoreError::UnknownSubscriber(_)) => return staff.refusal(StatusCode::NOT_FOUND, t.not_found),
        Err(e) => return staff.failure(e),
    };
    let edit = staff.session.identity.role.allows(Permission::Edit);
    let content = html! {
        @if let Some(text) = notice_text(&staff, &n) { (message(text, false)) }
        p { (d.name) " · " (d.status) " · " (t.created) " " (when(Some(d.created_at))) }
        h2 { (t.lists) " · " (t.consent) }
        div.scroll { table {
            thead { tr { th { (t.list) } th { (t.status) } th { (t.source) } th { "IP" } th { (t.when) } th {} } }
            tbody { @for s in &d.subscriptions { tr {
                td { (s.list) } td { (s.status) } td { (s.consent_source) } td { (s.consent_ip.clone().unwrap_or_default()) } td { (when(Some(s.consent_at))) }
                td { @if edit && s.status != "unsubscribed" {
                    form.inline method="post" action={ "/admin/subscribers/" (segment(&d.email)) "/unsubscribe" } {
                        (csrf(&staff)) input type="hidden" name="list" value=(s.list);
                        button.secondary type="submit" { (t.unsubscribe) }
                    }
                } }
            } } }
        } }
        h2 { (t.deliveries) }
        div.scroll { table {
            thead { tr { th { (t.issue) } th { (t.status) } th.num { (t.attempts) } th { (t.error) } th { (t.when) } } }
            tbody { @for x in &d.deliveries { tr { td { (x.issue) } td { (x.state) } td.num { (x.attempts) } td { (x.last_error.clone().unwrap_or_default()) } td { (when(x.sent_at.or(Some(x.updated_at)))) } } } }
        } }
        h2 { (t.bounces) }
        div.scroll { table {
            thead { tr { th { (t.kind) } th { (t.reason) } th { (t.source) } th { (t.error) } th { (t.issue) } th { (t.when) } } }
            tbody { @for b in &d.bounces { tr { td { (b.kind) } td { (b.reason) } td { (b.source) } td { (b.diagnostic.clone().unwrap_or_default()) } td { (b.issue.clone().unwrap_or_default()) } td { (when(Some(b.received_at))) } } } }
        } }
        h2 { (t.events) }
        div.scroll { table {
            thead { tr { th { (t.when) } th { (t.kind) } th { "actor" } th { (t.list) } } }
            tbody { @for e in &d.events { tr { td { (when(Some(e.at))) } td { (e.kind) } td { (e.actor) } td { (e.list.clone().unwrap_or_default()) } } } }
        } }
        @if edit { p { a.button.secondary href={ "/admin/subscribers/" (segment(&d.email)) "/erase" } { (t.erase) "…" } } }
    };
    page(&staff, "/admin/subscribers", &d.email, content).into_response()
}

#[derive(Deserialize)]
pub struct ListForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    list: String,
}

pub async fn unsubscribe(staff: Staff, Extract(state): Extract<State>, Path(email): Path<String>, Form(f): Form<ListForm>) -> Response {
    if let Err(r) = staff.check(&f.csrf).and_then(|_| staff.may(Permission::Edit)) {
        return r;
    }
    let Ok(address) = EmailAddress::parse(&email) else { return staff.refusal(StatusCode::NOT_FOUND, staff.t.not_found) };
    let store = &state.app.store;
    let list_id = match ListSlug::parse(&f.list) {
        Ok(slug) => match store.list_by_slug(&slug).await {
            Ok(l) => Some(l.id),
            Err(e) => return staff.failure(e),
        },
        Err(_) => None,
    };
    match store.unsubscribe(&address, list_id, staff.actor()).await {
        Ok(_) => Redirect::to(&format!("/admin/subscribers/{}?notice=done", segment(address.as_str()))).into_response(),
        Err(e) => staff.failure(e),
    }
}

pub async fn erase_form(staff: Staff, Path(email): Path<String>) -> Response {
    let t = staff.t;
    if let Err(r) = staff.may(Permission::Edit) {
        return r;
    }
    let content = html! {
        div.card {
            p { strong { (email) } } p { (t.erase_text) }
            div.actions {
                form.inline method="post" action={ "/admin/subscribers/" (segment(&email)) "/erase" } { (csrf(&staff)) button.danger type="submit" { (t.erase) } }
                a.button.secondary href={ "/admin/subscribers/" (segment(&email)) } { (t.back) }
            }
        }
    };
    page(&staff, "/admin/subscribers", t.erase_title, content).into_response()
}

pub async fn erase(staff: Staff, Extract(state): Extract<State>, Path(email): Path<String>, Form(f): Form<super::login::CsrfOnly>) -> Response {
    if let Err(r) = staff.check(&f.csrf).and_then(|_| staff.may(Permission::Edit)) {
        return r;
    }
    let Ok(address) = EmailAddress::parse(&email) else { return staff.refusal(StatusCode::NOT_FOUND, staff.t.not_found) };
    match state.app.store.erase_subscriber(&address, staff.actor()).await {
        Ok(()) => Redirect::to("/admin/subscribers?notice=erased").into_response(),
        Err(e) => staff.failure(e),
    }
}

pub async fn import_form(staff: Staff, Extract(state): Extract<State>) -> Response {
    let t = staff.t;
    if let Err(r) = staff.may(Permission::Edit) {
        return r;
    }
    let lists = match state.app.store.lists().await {
        Ok(l) => l,
        Err(e) => return staff.failure(e),
    };
    let content = html! {
        form.card method="post" action="/admin/import" enctype="multipart/form-data" {
            (csrf(&staff))
            label for="list" { (t.list) }
            select #list name="list" required { @for l in &lists { option value=(l.slug) { (l.name) " (" (l.slug) ")" } } }
            label for="file" { (t.csv_file) }
            input #file type="file" name="file" accept=".csv,text/csv" required;
            label.check { input type="checkbox" name="confirmed" value="true"; (t.import_confirmed) }
            p { button #start-import type="submit" { (t.start_import) } }
        }
    };
    page(&staff, "/admin/import", t.import_title, content).into_response()
}

/// The upload streams to a temporary file, field by field, chunk by chunk; the CSRF field must
/// come before the file (it does in our form) so a forged upload is not even stored.
pub async fn import(staff: Staff, Extract(state): Extract<State>, mut form: Multipart) -> Response {
    if let Err(r) = staff.may(Permission::Edit) {
        return r;
    }
    let (mut checked, mut list, mut confirmed, mut file) = (false, String::new(), false, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return staff.refusal(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        match field.name().unwrap_or_default() {
            "csrf" => {
                let value = field.text().await.unwrap_or_default();
                if let Err(r) = staff.check(&value) {
                    return r;
                }
                checked = true;
            }
            "list" => list = field.text().await.unwrap_or_default(),
            "confirmed" => confirmed = field.text().await.is_ok_and(|v| v == "true"),
            "file" if checked => match save_field(field).await {
                Ok(path) => file = Some(path),
                Err(e) => return staff.refusal(StatusCode::BAD_REQUEST, &e),
            },
            _ => {}
        }
    }
    if !checked {
        return staff.refusal(StatusCode::FORBIDDEN, staff.t.stale_form);
    }
    let Some(file) = file else { return staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, staff.t.csv_file) };
    let slug = match ListSlug::parse(&list) {
        Ok(s) => s,
        Err(e) => return staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let list = match state.app.store.list_by_slug(&slug).await {
        Ok(l) => l,
        Err(e) => return staff.failure(e),
    };
    match crate::operations::imports::start(state.app.clone(), list, confirmed, file, staff.actor().clone()).await {
        Ok(id) => Redirect::to(&format!("/admin/imports/{id}")).into_response(),
        Err(e) => staff.failure(e),
    }
}

async fn save_field(mut field: axum::extract::multipart::Field<'_>) -> Result<tempfile::TempPath, String> {
    let path = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?.into_temp_path();
    let mut out = tokio::fs::File::create(&path).await.map_err(|e| e.to_string())?;
    while let Some(chunk) = field.chunk().await.map_err(|e| e.to_string())? {
        out.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    out.flush().await.map_err(|e| e.to_string())?;
    Ok(path)
}

pub async fn import_job(staff: Staff, Extract(state): Extract<State>, Path(id): Path<i64>) -> Response {
    let t = staff.t;
    let job = match state.app.store.import_job(id).await {
        Ok(j) => j,
        Err(e) => return staff.failure(e),
    };
    let running = job.state == "running";
    let problems = job.problems.0.as_array().cloned().unwrap_or_default();
    let content = html! {
        @if running { meta http-equiv="refresh" content="1"; }
        div.card {
            p { strong { (match job.state.as_str() { "running" => t.import_running, "done" => t.import_done, _ => t.import_failed }) } " · " (t.list) " " code { (job.list) } }
            progress max=(job.bytes_total.max(1)) value=(if running { job.bytes_read } else { job.bytes_total.max(1) }) aria-label=(t.progress) {}
            @if let Some(error) = &job.error { (message(error, true)) }
            @if !running { table {
                tr { th { (t.rows) } td.num #rows { (number(job.rows)) } }
                tr { th { (t.imported) } td.num #imported { (number(job.imported)) } }
                tr { th { (t.updated) } td.num { (number(job.updated)) } }
                tr { th { (t.skipped) } td.num #skipped { (number(job.skipped)) } }
            } }
        }
        @if !problems.is_empty() {
            h2 { (t.problems) }
            div.scroll { table {
                thead { tr { th.num { (t.line) } th { (t.reason) } } }
                tbody { @for p in problems.iter().take(1000) { tr { td.num { (p["line"]) } td { (p["reason"].as_str().unwrap_or_default()) } } } }
            } }
        }
    };
    page(&staff, "/admin/import", t.import_title, content).into_response()
}

pub async fn staff(staff: Staff, Extract(state): Extract<State>, Query(n): Query<Notice>) -> Response {
    if let Err(r) = staff.may(Permission::Own) {
        return r;
    }
    staff_page(&staff, &state, n.notice.as_deref().and_then(|_| notice_text(&staff, &n)), None).await
}

async fn staff_page(staff: &Staff, state: &State, notice: Option<&str>, new_token: Option<&str>) -> Response {
    let t = staff.t;
    let (members, tokens) = match (state.app.store.list_staff().await, state.app.store.list_tokens().await) {
        (Ok(m), Ok(k)) => (m, k),
        (Err(e), _) | (_, Err(e)) => return staff.failure(e),
    };
    let roles = [Role::Viewer, Role::Editor, Role::Owner];
    let content = html! {
        @if let Some(text) = notice { (message(text, false)) }
        @if let Some(token) = new_token { div.notice role="status" { p { (t.token_once) } p { code #new-token { (token) } } } }
        div.scroll { table {
            thead { tr { th { (t.email) } th { (t.role) } th { (t.created) } th {} } }
            tbody { @for m in &members { tr {
                td { (m.email) } td { (m.role.0.as_str()) } td { (when(Some(m.created_at))) }
                td { form.inline method="post" action="/admin/staff/remove" { (csrf(staff)) input type="hidden" name="email" value=(m.email); button.secondary type="submit" { (t.remove) } } }
            } } }
        } }
        h2 { (t.add_staff) }
        form.card method="post" action="/admin/staff/add" {
            (csrf(staff))
            label for="new-email" { (t.email) } input #new-email type="email" name="email" required;
            label for="new-role" { (t.role) } select #new-role name="role" { @for r in roles { option value=(r.as_str()) { (r.as_str()) } } }
            label for="new-password" { (t.password) } input #new-password type="password" name="password" minlength="12" autocomplete="new-password" required;
            p { button type="submit" { (t.create) } }
        }
        h2 { (t.tokens) }
        div.scroll { table {
            thead { tr { th { (t.name) } th { (t.role) } th { (t.created) } th { (t.last_used) } th {} } }
            tbody { @for k in &tokens { tr {
                td { (k.name) } td { (k.role.0.as_str()) } td { (when(Some(k.created_at))) } td { (k.last_used_at.map(|x| when(Some(x))).unwrap_or_else(|| t.never.to_string())) }
                td { form.inline method="post" action="/admin/tokens/revoke" { (csrf(staff)) input type="hidden" name="name" value=(k.name); button.secondary type="submit" { (t.revoke) } } }
            } } }
        } }
        form.card method="post" action="/admin/tokens" {
            (csrf(staff))
            label for="token-name" { (t.name) } input #token-name type="text" name="name" required maxlength="100";
            label for="token-role" { (t.role) } select #token-role name="role" { @for r in roles { option value=(r.as_str()) { (r.as_str()) } } }
            p { button type="submit" { (t.new_token) } }
        }
    };
    page(staff, "/admin/staff", t.staff, content).into_response()
}

#[derive(Deserialize)]
pub struct StaffForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
}

fn owner_form(staff: &Staff, f: &StaffForm) -> Result<(), Response> {
    staff.check(&f.csrf).and_then(|_| staff.may(Permission::Own))
}

fn parsed_role(staff: &Staff, role: &str) -> Result<Role, Response> {
    role.parse().map_err(|e: crate::domain::UnknownRole| staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))
}

pub async fn add_staff(staff: Staff, Extract(state): Extract<State>, Form(f): Form<StaffForm>) -> Response {
    let done = async {
        owner_form(&staff, &f)?;
        let role = parsed_role(&staff, &f.role)?;
        let email = EmailAddress::parse(f.email.trim()).map_err(|e| staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))?;
        let hash = hash_password(&f.password).map_err(|e| staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))?;
        state.app.store.add_staff(&email, &hash, role, staff.actor()).await.map_err(|e| staff.failure(e))?;
        Ok::<_, Response>(Redirect::to("/admin/staff?notice=saved").into_response())
    };
    done.await.unwrap_or_else(|r| r)
}

pub async fn remove_staff(staff: Staff, Extract(state): Extract<State>, Form(f): Form<StaffForm>) -> Response {
    let done = async {
        owner_form(&staff, &f)?;
        let email = EmailAddress::parse(f.email.trim()).map_err(|e| staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))?;
        state.app.store.remove_staff(&email, staff.actor()).await.map_err(|e| staff.failure(e))?;
        Ok::<_, Response>(Redirect::to("/admin/staff?notice=done").into_response())
    };
    done.await.unwrap_or_else(|r| r)
}

pub async fn create_token(staff: Staff, Extract(state): Extract<State>, Form(f): Form<StaffForm>) -> Response {
    let done = async {
        owner_form(&staff, &f)?;
        let role = parsed_role(&staff, &f.role)?;
        let name = f.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(staff.refusal(StatusCode::UNPROCESSABLE_ENTITY, staff.t.name));
        }
        let token = Secret256::token();
        state.app.store.create_token(name, &token.digest(), role, staff.actor()).await.map_err(|e| staff.failure(e))?;
        // Shown once, on this answer to the POST; never in a URL.
        Ok(staff_page(&staff, &state, None, Some(token.expose())).await)
    };
    done.await.unwrap_or_else(|r| r)
}

pub async fn revoke_token(staff: Staff, Extract(state): Extract<State>, Form(f): Form<StaffForm>) -> Response {
    let done = async {
        owner_form(&staff, &f)?;
        state.app.store.revoke_token(&f.name, staff.actor()).await.map_err(|e| staff.failure(e))?;
        Ok::<_, Response>(Redirect::to("/admin/staff?notice=done").into_response())
    };
    done.await.unwrap_or_else(|r| r)
}

