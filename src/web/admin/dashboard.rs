//! The dashboard and the bounce log: tables, and charts where staff would rather look.

use axum::extract::{Query, State as Extract};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::Staff;
use crate::render::charts::{ChartText, Series, ValueFormat, bar_chart, line_chart};
use crate::store::{GrowthDay, SendRate, Store, StoreError};
use super::layout::{number, page, when};
use crate::web::State;

pub async fn dashboard(staff: Staff, Extract(state): Extract<State>) -> Response {
    let t = staff.t;
    let store = &state.app.store;
    let ((lists, counted_at), issues) = match (store.list_counts_summary().await, store.all_issues(10).await) {
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
        p.muted { (t.counted_at) " " (when(counted_at)) " UTC" }
        (doctor(&staff, &state).await)
        h2 { (t.recent_issues) }
        (super::issues::issue_table(&staff, &issues))
        (charts(&staff, &state).await)
    };
    page(&staff, "/admin", t.dashboard, content).into_response()
}

/// The last `tidings doctor` run: when, how many checks failed, and those that did (or warned).
async fn doctor(staff: &Staff, state: &State) -> Markup {
    let t = staff.t;
    let report: Option<crate::doctor::Report> = state.app.store.doctor_report().await.ok().flatten().and_then(|json| serde_json::from_str(&json).ok());
    let Some(report) = report else {
        return html! { section #doctor { h2 { (t.doctor_title) } p.muted { (t.doctor_never) } } };
    };
    use crate::doctor::Status;
    let (failed, warned) = (report.count(Status::Fail), report.count(Status::Warn));
    html! { section #doctor {
        h2 { (t.doctor_title) }
        p {
            (when(Some(report.at))) " UTC · "
            strong { (failed) " " (t.doctor_failed) } ", " (warned) " " (t.doctor_warnings)
            @if failed == 0 { " · " (t.doctor_all_good) }
        }
        ul { @for c in report.checks.iter().filter(|c| matches!(c.status, Status::Fail | Status::Warn)) {
            li class=(if c.status == Status::Fail { "fail" } else { "warn" }) {
                span aria-hidden="true" { (c.status.symbol()) " " } strong { (c.name) } ": " (c.detail)
                @if let Some(advice) = &c.advice { br; span.muted { "→ " (advice) } }
            }
        } }
    } }
}

/// What the dashboard's charts show, recomputed in the background (every 30 s while `serve`
/// runs) so that no page view waits for the counting.
pub struct ChartData {
    growth: Vec<(String, Vec<GrowthDay>)>,
    rates: Vec<SendRate>,
    blocked: Vec<(String, i64)>,
}

/// Lists shown with their own growth chart; more would make the dashboard a report.
const GROWTH_LISTS: usize = 5;
const GROWTH_DAYS: i64 = 30;
const RATE_SENDS: i64 = 10;
const BLOCKED_DAYS: i64 = 30;

pub async fn chart_data(store: &Store) -> Result<ChartData, StoreError> {
    let mut growth = Vec::new();
    for list in store.lists().await?.into_iter().take(GROWTH_LISTS) {
        growth.push((list.name.clone(), store.subscriber_growth(list.id, GROWTH_DAYS).await?));
    }
    Ok(ChartData { growth, rates: store.send_rates(RATE_SENDS).await?, blocked: store.blocked_by_domain(BLOCKED_DAYS, 15).await? })
}

async fn charts(staff: &Staff, state: &State) -> Markup {
    // Computed again here only when something happened since (an import, a send, a bounce) and
    // the copy is over 10 s old: what staff just did shows soon, and a busy sign-up form does
    // not make every view count again; otherwise the background copy serves.
    let newest = state.app.store.newest_event_id().await.unwrap_or(-1);
    let cached = state.admin_charts.read().await.clone();
    let data = match cached {
        Some((seen, at, data)) if seen == newest || at.elapsed() < std::time::Duration::from_secs(10) => data,
        _ => match chart_data(&state.app.store).await {
            Ok(data) => {
                let data = std::sync::Arc::new(data);
                *state.admin_charts.write().await = Some((newest, std::time::Instant::now(), data.clone()));
                data
            }
            Err(e) => return html! { (super::layout::message(&e.to_string(), true)) },
        },
    };
    let t = staff.t;
    let text = |id: &str, title: String, caption: &str, x: &str, y: &str, format: ValueFormat| ChartText {
        id: id.to_string(),
        title,
        caption: caption.to_string(),
        empty: t.no_data.to_string(),
        table: t.show_numbers.to_string(),
        x_header: x.to_string(),
        y_header: y.to_string(),
        format,
    };
    let oldest_first: Vec<&SendRate> = data.rates.iter().rev().collect();
    let rate = |f: fn(&SendRate) -> i64| -> Vec<(String, f64)> { oldest_first.iter().map(|r| (r.issue.clone(), if r.sent > 0 { f(r) as f64 / r.sent as f64 } else { 0.0 })).collect() };
    html! {
        h2 { (t.growth_title) }
        div.grid {
            @for (i, (list, days)) in data.growth.iter().enumerate() {
                div.card { (line_chart(&text(&format!("growth-{i}"), format!("{} · {list}", t.growth_title), t.growth_caption, t.day, t.subscribers, ValueFormat::Count), &[
                    Series { label: t.confirmed.into(), points: days.iter().map(|d| (d.day.clone(), d.confirmed as f64)).collect() },
                    Series { label: t.unsubscribed.into(), points: days.iter().map(|d| (d.day.clone(), d.unsubscribed as f64)).collect() },
                    Series { label: t.bounced.into(), points: days.iter().map(|d| (d.day.clone(), d.bounced as f64)).collect() },
                ])) }
            }
        }
        h2 { (t.rates_title) }
        div.grid {
            div.card { (bar_chart(&text("complaints", format!("{} · {}", t.rates_title, t.complaint_rate), t.rates_caption, t.issue, t.complaint_rate, ValueFormat::Percent), &rate(|r| r.complaints), Some((0.003, t.complaint_limit.to_string())))) }
            div.card { (bar_chart(&text("bounces", format!("{} · {}", t.rates_title, t.bounce_rate), t.rates_caption, t.issue, t.bounce_rate, ValueFormat::Percent), &rate(|r| r.bounced), Some((0.02, t.bounce_limit.to_string())))) }
        }
        h2 { (t.blocked_title) }
        div.card { (bar_chart(&text("blocked", t.blocked_title.to_string(), t.blocked_caption, t.domain, t.messages, ValueFormat::Count), &data.blocked.iter().map(|(d, n)| (d.clone(), *n as f64)).collect::<Vec<_>>(), None)) }
    }
}

/// The delivery curve of one send, for its progress page.
pub async fn curve_chart(staff: &Staff, state: &State, issue_id: i64) -> Markup {
    let t = staff.t;
    let minutes = match state.app.store.delivery_curve(issue_id).await {
        Ok(m) => m,
        Err(e) => return html! { (super::layout::message(&e.to_string(), true)) },
    };
    let c = ChartText {
        id: "curve".into(),
        title: t.curve_title.into(),
        caption: t.curve_caption.into(),
        empty: t.no_data.into(),
        table: t.show_numbers.into(),
        x_header: t.minute.into(),
        y_header: t.messages.into(),
        format: ValueFormat::Count,
    };
    let label = |m: &str| m.get(11..).unwrap_or(m).to_string();
    html! { div.card { (line_chart(&c, &[
        Series { label: t.sent.into(), points: minutes.iter().map(|m| (label(&m.minute), m.sent as f64)).collect() },
        Series { label: t.failed.into(), points: minutes.iter().map(|m| (label(&m.minute), m.failed as f64)).collect() },
    ])) } }
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
