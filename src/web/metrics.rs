//! `/healthz`, `/metrics` (Prometheus text format), and the middleware that counts and logs each
//! request by its route pattern — never by its actual path, which may hold a token.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State as AxumState};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::State;
use crate::app::Counters;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub struct HttpMetrics {
    /// (route, method, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// route → (bucket counts, sum of seconds, count).
    latency: Mutex<BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>>,
}

impl HttpMetrics {
    fn record(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        *self.requests.lock().expect("metrics lock").entry((route.to_string(), method.to_string(), status)).or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        let (buckets, sum, count) = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                buckets[i] += 1;
            }
        }
        *sum += seconds;
        *count += 1;
    }
}

pub async fn observe(AxumState(state): AxumState<State>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record(&route, &method, status, seconds);
    tracing::info!(target: "tidings::access", %method, %route, status, ms = (seconds * 1000.0).round(), "request");
    response
}

/// A label for the request's method: any other string a client sends would become a label of
/// its own, kept forever.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS]
        .iter()
        .find(|m| *m == method)
        .map_or("other", |m| m.as_str())
}

pub async fn healthz(AxumState(state): AxumState<State>) -> Response {
    match state.app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

pub async fn metrics(AxumState(state): AxumState<State>) -> Response {
    let mut out = String::new();
    let store = &state.app.store;
    let (deliveries, bounces) = match (store.delivery_state_totals().await, store.bounce_totals().await) {
        (Ok(d), Ok(b)) => (d, b),
        (Err(e), _) | (_, Err(e)) => return super::internal(&state, e),
    };
    gauge(&mut out, "tidings_deliveries", "Deliveries by state, all issues.", deliveries.iter().map(|(s, n)| (format!("state=\"{s}\""), *n as f64)));
    gauge(&mut out, "tidings_bounces", "Recorded bounces and complaints by kind.", bounces.iter().map(|(k, n)| (format!("kind=\"{k}\""), *n as f64)));
    let c = &state.app.counters;
    for (name, help, value) in [
        ("tidings_messages_sent_total", "Issue messages accepted by the relay, by this process.", &c.messages_sent),
        ("tidings_messages_failed_total", "Issue messages failed or bounced at send time, by this process.", &c.messages_failed),
        ("tidings_confirmation_emails_sent_total", "Double opt-in emails sent by this process.", &c.confirmations_sent),
        ("tidings_subscribe_requests_total", "Accepted sign-up forms.", &c.subscribe_requests),
        ("tidings_confirmations_total", "Subscriptions confirmed from their link.", &c.confirmations),
        ("tidings_unsubscribes_total", "Unsubscribes from links and one-click posts.", &c.unsubscribes),
        ("tidings_personal_feed_requests_total", "Requests to private lists' personal feeds (their tokens are never logged).", &c.personal_feed_requests),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", Counters::get(value));
    }
    let _ = writeln!(out, "# HELP tidings_http_requests_total HTTP requests by route pattern, method and status.\n# TYPE tidings_http_requests_total counter");
    for ((route, method, status), n) in state.metrics.requests.lock().expect("metrics lock").iter() {
        let _ = writeln!(out, "tidings_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP tidings_http_request_duration_seconds HTTP request latency by route pattern.\n# TYPE tidings_http_request_duration_seconds histogram");
    for (route, (buckets, sum, count)) in state.metrics.latency.lock().expect("metrics lock").iter() {
        for (bound, n) in BUCKETS.iter().zip(buckets) {
            let _ = writeln!(out, "tidings_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "tidings_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "tidings_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}\ntidings_http_request_duration_seconds_count{{route=\"{route}\"}} {count}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

fn gauge(out: &mut String, name: &str, help: &str, samples: impl Iterator<Item = (String, f64)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}
