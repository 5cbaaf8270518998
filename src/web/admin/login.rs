//! Logging in and out. A failed login says the same for an unknown address as for a wrong
//! password, takes as long, and is rate-limited per IP address and per account.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::Form;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::layout::{head, message};
use super::{SESSION_COOKIE, Staff, strings};
use crate::domain::EmailAddress;
use crate::staff::{Secret256, credentials::waste_a_verification, verify_password};
use crate::web::client_ip::ClientIp;
use crate::web::{State, guard};

/// Staff sessions last a working day.
const SESSION_HOURS: i64 = 12;

/// argon2 takes tens of milliseconds of one core by design: never on the async workers, and at
/// most two at once, so a burst of logins cannot stall every other request.
static VERIFICATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Whether the password matches the hash; without a hash (unknown address) the same work is
/// done, so the time taken says nothing about which addresses are staff.
async fn password_matches(password: String, hash: Option<String>) -> bool {
    let permit = VERIFICATIONS.acquire().await.expect("the semaphore is never closed");
    // The permit lives in the task: a client that hangs up does not free its slot while the
    // check still runs.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                waste_a_verification(&password);
                false
            }
        }
    })
    .await
    .unwrap_or(false)
}

pub struct LoginLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    /// Tries at one account from anywhere: guessing from many addresses (one /48 holds 65,536
    /// /64s) stays slow too.
    per_account_anywhere: DefaultKeyedRateLimiter<String>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let ten = NonZeroU32::new(10).expect("non-zero");
        let five = NonZeroU32::new(5).expect("non-zero");
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(ten)),
            // Five tries at once, then one every three minutes, per account and client address.
            per_account: RateLimiter::keyed(Quota::with_period(Duration::from_secs(180)).expect("non-zero period").allow_burst(five)),
            // Thirty an hour: far above what a person signing in needs.
            per_account_anywhere: RateLimiter::keyed(Quota::per_hour(NonZeroU32::new(30).expect("non-zero"))),
        }
    }
}

impl LoginLimits {
    pub fn forget_quiet_keys(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
        self.per_account_anywhere.retain_recent();
    }
}

fn login_page(t: &'static super::AdminStrings, token: &str, email: &str, problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(t.lang) {
            (head(t, t.login_title))
            body { main #main.login {
                h1 { (t.product) " · " (t.login_title) }
                @if let Some(p) = problem { (message(p, true)) }
                form.card method="post" action="/admin/login" {
                    input type="hidden" name="csrf" value=(token);
                    label for="email" { (t.email) }
                    input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    label for="password" { (t.password) }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    p { button type="submit" { (t.sign_in) } }
                }
            } }
        }
    }
}

fn secure(state: &State) -> bool {
    state.app.config.site.base_url.starts_with("https://")
}

pub async fn form(Extract(state): Extract<State>, headers: HeaderMap) -> Response {
    let (token, cookie) = guard::form_token(&state.app.keys, &headers, secure(&state));
    guard::with_cookie(login_page(strings(&headers), &token, "", None).into_response(), cookie)
}

#[derive(Deserialize)]
pub struct Login {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(Extract(state): Extract<State>, ClientIp(client_ip): ClientIp, headers: HeaderMap, Form(login): Form<Login>) -> Response {
    let t = strings(&headers);
    let again = |status: StatusCode, problem: &str| {
        let (token, cookie) = guard::form_token(&state.app.keys, &headers, secure(&state));
        guard::with_cookie((status, login_page(t, &token, &login.email, Some(problem))).into_response(), cookie)
    };
    if !guard::csrf_ok(&state.app.keys, &headers, &login.csrf) {
        return again(StatusCode::FORBIDDEN, t.stale_form);
    }
    // Per account and address: a stranger's guesses cannot lock the owner out elsewhere.
    // Keyed on the address as the store finds it: `owner@exam\u{ad}ple.org` is the same account.
    let account_key = EmailAddress::parse(login.email.trim()).map_or_else(|_| login.email.trim().to_lowercase(), |e| e.key());
    let client = guard::limit_key(client_ip);
    let key = format!("{account_key} {client}");
    let limits = &state.admin_limits;
    if !limits.per_ip.check_key(&client).is_ok() || !limits.per_account.check_key(&key).is_ok() || !limits.per_account_anywhere.check_key(&account_key).is_ok() {
        return again(StatusCode::TOO_MANY_REQUESTS, t.throttled);
    }
    let account = match EmailAddress::parse(login.email.trim()) {
        Ok(email) => match state.app.store.staff_credentials(&email).await {
            Ok(found) => found,
            Err(e) => return crate::web::internal(&state, e),
        },
        Err(_) => None,
    };
    let (member, hash) = account.map_or((None, None), |(member, hash)| (Some(member), Some(hash)));
    let member = match (member, password_matches(login.password.clone(), hash).await) {
        (Some(member), true) => member,
        _ => return again(StatusCode::UNAUTHORIZED, t.login_failed),
    };
    let (session, csrf) = (Secret256::session(), Secret256::session());
    if let Err(e) = state.app.store.create_session(&member, &session.digest(), csrf.expose(), chrono::Duration::hours(SESSION_HOURS), &client_ip.to_string()).await {
        return crate::web::internal(&state, e);
    }
    let flags = if secure(&state) { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={}{flags}", session.expose(), SESSION_HOURS * 3600);
    let mut response = Redirect::to("/admin").into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a cookie of URL-safe base64"));
    response
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(staff: Staff, Extract(state): Extract<State>, headers: HeaderMap, Form(form): Form<CsrfOnly>) -> Response {
    if let Err(refused) = staff.check(&form.csrf) {
        return refused;
    }
    if let Some(value) = guard::cookie(&headers, SESSION_COOKIE)
        && let Err(e) = state.app.store.end_session(&Secret256::from_presented(value).digest()).await
    {
        return crate::web::internal(&state, e);
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("tidings_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0"));
    response
}
