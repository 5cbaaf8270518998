//! `tidings issue send|status|pause|resume|cancel`, `tidings deliver`, `tidings serve`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::{CliError, Context, output};
use crate::app::App;
use crate::delivery::engine::{Engine, EngineError, Mode};
use crate::delivery::status::send_status;
use crate::operations::sends;
use crate::store::Actor;

#[derive(Debug, Args)]
pub struct SendArgs {
    slug: String,
    /// Queue at this time instead of now (RFC 3339, e.g. 2021-02-01T08:00:00Z)
    #[arg(long)]
    at: Option<String>,
    /// Send one copy to this address only; the list is not touched
    #[arg(long, conflicts_with = "at")]
    test: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    slug: String,
    /// Show a live progress bar until the send is done
    #[arg(long)]
    follow: bool,
}

#[derive(Debug, Args)]
pub struct SlugArg {
    slug: String,
}

#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// Stop when no work is due (for cron, tests and benchmarks)
    #[arg(long)]
    until_idle: bool,
}

fn engine_error(e: EngineError) -> CliError {
    match e {
        EngineError::Store(s) => s.into(),
        EngineError::Dkim(d) => CliError::usage(d),
        other => CliError::runtime(other),
    }
}

pub async fn send(ctx: &Context, args: SendArgs) -> Result<(), CliError> {
    let app = ctx.app().await?;
    let issue = app.store.issue_by_slug(&args.slug).await?;
    let actor = Actor::cli();
    if let Some(address) = args.test {
        let email = sends::send_test(&app, &issue, &address, &actor).await.map_err(|e| CliError::from(e).in_file("--test"))?;
        if ctx.json {
            return output::json(&serde_json::json!({"issue": issue.slug, "test": email.as_str(), "sent": true}));
        }
        println!("sent a test copy of {} to {email}", issue.slug);
        return Ok(());
    }
    let (what, detail) = match args.at {
        Some(at) => {
            let at = sends::parse_time("at", &at).map_err(|e| CliError::from(e).in_file("--at"))?;
            sends::schedule(&app, &issue, at, &actor).await?;
            (format!("{} is scheduled for {}", issue.slug, at.to_rfc3339()), serde_json::json!({"scheduled_for": at}))
        }
        None => {
            let n = sends::send_now(&app, &issue, &actor).await?;
            (format!("{} is queued for {n} subscribers of {}; `tidings serve` or `tidings deliver --until-idle` sends it", issue.slug, issue.list_slug), serde_json::json!({"recipients": n}))
        }
    };
    if ctx.json {
        return output::json(&serde_json::json!({"issue": issue.slug, "detail": detail}));
    }
    println!("{what}");
    Ok(())
}

pub async fn status(ctx: &Context, args: StatusArgs) -> Result<(), CliError> {
    let app = ctx.app().await?;
    if args.follow && std::io::stderr().is_terminal() && !ctx.json {
        return follow(&app, &args.slug).await;
    }
    let s = send_status(&app, &args.slug).await?;
    if ctx.json {
        return output::json(&s);
    }
    let d = &s.deliveries;
    println!("{}: {} — {} of {} done", s.issue, s.status, s.total - d.remaining(), s.total);
    output::table(
        &["QUEUED", "SENDING", "SENT", "FAILED", "BOUNCED", "SKIPPED", "RATE/MIN", "ETA"],
        &[vec![d.queued.to_string(), d.sending.to_string(), d.sent.to_string(), d.failed.to_string(), d.bounced.to_string(), d.skipped.to_string(), s.rate_per_minute.to_string(), s.eta_seconds.map(|e| format!("{e}s")).unwrap_or_else(|| "-".into())]],
    );
    if !s.top_errors.is_empty() {
        println!("\nmost frequent errors:");
        for e in &s.top_errors {
            println!("{:>8}  {}", e.count, e.error);
        }
    }
    Ok(())
}

async fn follow(app: &App, slug: &str) -> Result<(), CliError> {
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    loop {
        let s = send_status(app, slug).await?;
        bar.set_length(s.total as u64);
        bar.set_position((s.total - s.deliveries.remaining()) as u64);
        bar.set_message(format!("{} · {}/min · failed {} · bounced {}", s.status, s.rate_per_minute, s.deliveries.failed, s.deliveries.bounced));
        if !matches!(s.status.as_str(), "sending" | "scheduled" | "paused") {
            bar.finish();
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub async fn control(ctx: &Context, args: SlugArg, action: &str) -> Result<(), CliError> {
    let app = ctx.app().await?;
    let issue = app.store.issue_by_slug(&args.slug).await?;
    let action = sends::Control::parse(action).ok_or_else(|| CliError::usage(format!("{action:?} is not pause, resume or cancel")))?;
    let to = sends::control(&app, &issue, action, &Actor::cli()).await?;
    if ctx.json {
        return output::json(&serde_json::json!({"issue": issue.slug, "status": to}));
    }
    println!("{} is {to}", issue.slug);
    Ok(())
}

pub async fn deliver(ctx: &Context, args: DeliverArgs) -> Result<(), CliError> {
    let mode = if args.until_idle { Mode::UntilIdle } else { Mode::Forever };
    let report = run_engine(ctx, mode).await?;
    if ctx.json {
        return output::json(&report);
    }
    println!("sent {}, retrying {}, failed {}, bounced {}, skipped {}", report.sent, report.retried, report.failed, report.bounced, report.skipped);
    Ok(())
}

pub async fn serve(ctx: &Context) -> Result<(), CliError> {
    let app = Arc::new(ctx.app().await?);
    let (stop_tx, _) = watch::channel(false);
    let stopper = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: in-flight messages finish first");
        let _ = stopper.send(true);
    });
    tracing::info!(database = %crate::store::describe_url(&app.config.database.url), transport = ?app.config.smtp.transport, "tidings serve started; stop with Ctrl-C or SIGTERM");
    crate::daemon::run(app, stop_tx).await.map_err(|e| match e {
        crate::daemon::DaemonError::Engine(e) => engine_error(e),
        other => CliError::runtime(other),
    })
}

async fn run_engine(ctx: &Context, mode: Mode) -> Result<crate::delivery::engine::RunReport, CliError> {
    let app = Arc::new(ctx.app().await?);
    let engine = Engine::start(app).await.map_err(engine_error)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    engine.run(mode, stop_rx).await.map_err(engine_error)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
