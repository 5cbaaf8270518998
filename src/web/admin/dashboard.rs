//! The dashboard and the bounce log: tables, and charts where staff would rather look.

use axum::extract::{Query, State as Extract};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::Staff;
use super::layout::{number, page, when};
use crate::web::State;

pub async fn dashboard(staff: Staff, Extract(state): Extract<State>) -> Response {
    let t = staff.t;
    let store = &state.app.store;
    let (lists, issues) = match (store.list_counts().await, store.all_issues(10).await) {
        (Ok(l), Ok(i)) => (l, i),
        (Err(e), _) | (_, Err(e)) => return staff.failure(e),
    };
    let content = html! {
        div.scroll { table #lists {
            thead { tr { th { (t.list) } th.num { (t.confirmed) } th.num { (t.pending) } th.num { (t.unsubscribed) } th.num { (t.bounced) } th.num { (t.complained) } } }
            tbody { @for l in &lists { tr {
                td { a href={ "/admin/subscribers?list=" (l.slug) } { (l.name) } }
                td.num { (number(l.confirmed)) } td.num { (number(l.pending)) } td.num { (number(l.unsubscribed)) } td.num { (number(l.bounced)) } td.num { (number(l.complained)) }
            } } }
        } }
        h2 { (t.recent_issues) }
        (super::issues::issue_table(&staff, &issues))
        (charts(&staff, &state).await)
    };
    page(&staff, "/admin", t.dashboard, content).into_response()
}

/// The dashboard's charts (filled in by the charts module).
async fn charts(_staff: &Staff, _state: &State) -> Markup {
    html! {}
}

/// The delivery curve of one send, for its progress page.
pub async fn curve_chart(_staff: &Staff, _state: &State, _issue_id: i64) -> Markup {
    html! {}
}

#[derive(Deserialize, Default)]
pub struct Cursor {
    before: Option<i64>,
}

pub async fn bounces(staff: Staff, Extract(state): Extract<State>, Query(c): Query<Cursor>) -> Response {
    let t = staff.t;
    const PAGE: i64 = 100;
    let mut rows = match state.app.store.bounce_log(None, c.before, PAGE + 1).await {
        Ok(r) => r,
        Err(e) => return staff.failure(e),
    };
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let content = html! {
        div.scroll { table {
            thead { tr { th { (t.when) } th { (t.email) } th { (t.kind) } th { (t.reason) } th { (t.domain) } th { (t.error) } th { (t.issue) } } }
            tbody { @for b in &rows { tr {
                td { (when(Some(b.received_at))) } td { (b.email.clone().unwrap_or_else(|| "–".into())) } td { (b.kind) } td { (b.reason) }
                td { (b.receiving_domain.clone().unwrap_or_default()) } td { (b.diagnostic.clone().unwrap_or_default()) } td { (b.issue.clone().unwrap_or_default()) }
            } } }
        } }
        @if more { @if let Some(last) = rows.last() { p { a.button.secondary href={ "/admin/bounces?before=" (last.id) } { (t.next_page) } } } }
    };
    page(&staff, "/admin/bounces", t.bounces, content).into_response()
}
