//! `tidings subscriber add|import|export|show|erase` and `tidings unsubscribe`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::{CliError, Context, output};
use crate::audience::{self, ImportReport};
use crate::domain::{ConsentSource, EmailAddress, ListSlug, SubscriberName, SubscriptionStatus};
use crate::store::{Actor, AddOutcome, ExportFilter, NewSubscription, Store};

#[derive(Debug, Subcommand)]
pub enum SubscriberCommand {
    /// Add one subscriber to a list (sends the double opt-in email unless --confirmed)
    Add(AddArgs),
    /// Import subscribers from a CSV file with a header row
    Import(ImportArgs),
    /// Write subscriptions as CSV to stdout
    Export(ExportArgs),
    /// Show everything held about one subscriber
    Show(EmailArg),
    /// Delete a subscriber's personal data, keeping only a hashed suppression entry
    Erase(EmailArg),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    email: String,
    #[arg(long)]
    list: String,
    #[arg(long)]
    name: Option<String>,
    /// Consent was already confirmed elsewhere: skip the confirmation email
    #[arg(long)]
    confirmed: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    file: PathBuf,
    #[arg(long)]
    list: String,
    /// The file's subscribers already confirmed their consent
    #[arg(long)]
    confirmed: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    list: Option<String>,
    /// pending, confirmed, unsubscribed, bounced or complained
    #[arg(long)]
    status: Option<String>,
}

#[derive(Debug, Args)]
pub struct EmailArg {
    email: String,
}

#[derive(Debug, Args)]
pub struct UnsubscribeArgs {
    email: String,
    /// Only this list [default: every list]
    #[arg(long)]
    list: Option<String>,
}

pub async fn run(ctx: &Context, cmd: SubscriberCommand) -> Result<(), CliError> {
    match cmd {
        SubscriberCommand::Add(args) => add(ctx, args).await,
        SubscriberCommand::Import(args) => import(ctx, args).await,
        SubscriberCommand::Export(args) => export(ctx, args).await,
        SubscriberCommand::Show(args) => show(ctx, args).await,
        SubscriberCommand::Erase(args) => erase(ctx, args).await,
    }
}

fn parse_email(input: &str) -> Result<EmailAddress, CliError> {
    EmailAddress::parse(input).map_err(|e| CliError::usage(format!("invalid email address {input:?}: {e}")))
}

fn parse_slug(input: &str) -> Result<ListSlug, CliError> {
    ListSlug::parse(input).map_err(|e| CliError::usage(format!("--list: {e}")))
}

async fn add(ctx: &Context, args: AddArgs) -> Result<(), CliError> {
    let email = parse_email(&args.email)?;
    let name = SubscriberName::parse(args.name.as_deref().unwrap_or_default()).map_err(|e| CliError::usage(format!("--name: {e}")))?;
    let slug = parse_slug(&args.list)?;
    let store = ctx.store().await?;
    let list = store.list_by_slug(&slug).await?;
    let new = NewSubscription { email: &email, name: &name, list_id: list.id, confirmed: args.confirmed, source: ConsentSource::Cli, ip: None, user_agent: None, attributes: None };
    let outcome = store.add_subscription(new, &Actor::cli()).await?;
    if ctx.json {
        return output::json(&serde_json::json!({"email": email.as_str(), "list": list.slug, "outcome": outcome}));
    }
    let pending_note = "pending until they confirm from the email (`tidings serve` or `tidings deliver --until-idle` sends it)";
    let said = match outcome {
        AddOutcome::Added(SubscriptionStatus::Confirmed) => "added, confirmed".to_string(),
        AddOutcome::Added(_) => format!("added, {pending_note}"),
        AddOutcome::Confirmed => "confirmed (was pending)".to_string(),
        AddOutcome::Resubscribed(SubscriptionStatus::Confirmed) => "subscribed again, confirmed".to_string(),
        AddOutcome::Resubscribed(_) => format!("subscribed again, {pending_note}"),
        AddOutcome::Unchanged(SubscriptionStatus::Pending) => format!("already {pending_note}; a new confirmation email goes out if the last one is over 15 minutes old"),
        AddOutcome::Unchanged(status) => format!("already {status}"),
    };
    println!("{email} on {}: {said}", list.slug);
    Ok(())
}

async fn import(ctx: &Context, args: ImportArgs) -> Result<(), CliError> {
    let slug = parse_slug(&args.list)?;
    let shown = args.file.display().to_string();
    let size = std::fs::metadata(&args.file).map_err(|e| CliError::usage(format!("cannot read {shown}: {e}")))?.len();
    audience::check_utf8(&args.file)?;
    let store = ctx.store().await?;
    let list = store.list_by_slug(&slug).await?;
    let file = std::fs::File::open(&args.file).map_err(|e| CliError::usage(format!("cannot read {shown}: {e}")))?;
    let bar = progress_bar(size);
    let source = bar.wrap_read(std::io::BufReader::with_capacity(1 << 16, file));
    let quiet = ctx.json;
    let report = audience::import_csv(&store, source, list.id, args.confirmed, |problem| {
        if !quiet {
            bar.suspend(|| eprintln!("{shown}: {problem}"));
        }
    })
    .await
    .map_err(|e| CliError::from(e).in_file(&shown))?;
    bar.finish_and_clear();
    record_import(&store, &list, &report).await?;
    if ctx.json {
        return output::json(&serde_json::json!({"file": shown, "list": list.slug, "report": report}));
    }
    println!("{shown} → {}: {} imported, {} updated, {} skipped ({} rows)", list.slug, report.imported, report.updated, report.skipped, report.rows);
    Ok(())
}

async fn record_import(store: &Store, list: &crate::store::List, report: &ImportReport) -> Result<(), CliError> {
    let detail = serde_json::json!({"rows": report.rows, "imported": report.imported, "updated": report.updated, "skipped": report.skipped});
    let event = crate::store::NewEvent { kind: "import.finished", actor: &Actor::cli(), subscriber_id: None, list_id: Some(list.id), issue_id: None, detail };
    Ok(store.record_event(event).await?)
}

/// A bar on a terminal; nothing at all when stderr is a pipe or a file.
fn progress_bar(bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(bytes);
    let style = ProgressStyle::with_template("{bar:40} {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

async fn export(ctx: &Context, args: ExportArgs) -> Result<(), CliError> {
    if let Some(status) = &args.status
        && !["pending", "confirmed", "unsubscribed", "bounced", "complained"].contains(&status.as_str())
    {
        return Err(CliError::usage(format!("--status {status:?} is not one of pending, confirmed, unsubscribed, bounced, complained")));
    }
    let store = ctx.store().await?;
    let list_id = match &args.list {
        Some(slug) => Some(store.list_by_slug(&parse_slug(slug)?).await?.id),
        None => None,
    };
    let filter = ExportFilter { list_id, status: args.status };
    let stdout = std::io::stdout().lock();
    match audience::export_csv(&store, &filter, std::io::BufWriter::new(stdout)).await {
        Ok(_) => Ok(()),
        // `export | head` closes the pipe early: that is the reader's choice, not a failure.
        Err(audience::ExportError::Write(e)) if is_broken_pipe(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn is_broken_pipe(e: &csv::Error) -> bool {
    matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

async fn show(ctx: &Context, args: EmailArg) -> Result<(), CliError> {
    let email = parse_email(&args.email)?;
    let detail = ctx.store().await?.subscriber_detail(&email).await?;
    if ctx.json {
        return output::json(&detail);
    }
    println!("{} {}", detail.email, if detail.name.is_empty() { String::new() } else { format!("({})", detail.name) });
    println!("status: {}   soft bounces: {}   since: {}", detail.status, detail.soft_bounces, detail.created_at.format("%Y-%m-%d %H:%M UTC"));
    if detail.attributes.as_object().is_some_and(|a| !a.is_empty()) {
        println!("attributes: {}", detail.attributes);
    }
    println!("\nlists:");
    let rows: Vec<Vec<String>> = detail
        .subscriptions
        .iter()
        .map(|s| vec![s.list.clone(), s.status.clone(), s.consent_source.clone(), fmt_time(Some(s.consent_at)), fmt_time(s.confirmed_at), fmt_time(s.unsubscribed_at), s.consent_ip.clone().unwrap_or_default()])
        .collect();
    output::table(&["LIST", "STATUS", "CONSENT", "SINCE", "CONFIRMED", "UNSUBSCRIBED", "IP"], &rows);
    println!("\ndeliveries: {}", if detail.deliveries.is_empty() { "none".to_string() } else { detail.delivery_counts.to_string() });
    let rows: Vec<Vec<String>> = detail.deliveries.iter().map(|d| vec![d.issue.clone(), d.state.clone(), d.attempts.to_string(), fmt_time(d.sent_at), d.last_error.clone().unwrap_or_default()]).collect();
    if !rows.is_empty() {
        output::table(&["ISSUE", "STATE", "ATTEMPTS", "SENT", "LAST ERROR"], &rows);
    }
    println!("\nbounces: {}", if detail.bounces.is_empty() { "none" } else { "" });
    let rows: Vec<Vec<String>> = detail.bounces.iter().map(|b| vec![fmt_time(Some(b.received_at)), b.kind.clone(), b.reason.clone(), b.status_code.clone().unwrap_or_default(), b.diagnostic.clone().unwrap_or_default()]).collect();
    if !rows.is_empty() {
        output::table(&["WHEN", "KIND", "REASON", "STATUS", "DIAGNOSTIC"], &rows);
    }
    println!("\nevents (newest first):");
    let rows: Vec<Vec<String>> = detail.events.iter().map(|e| vec![fmt_time(Some(e.at)), e.kind.clone(), e.list.clone().unwrap_or_default(), e.actor.clone()]).collect();
    output::table(&["WHEN", "EVENT", "LIST", "BY"], &rows);
    Ok(())
}

fn fmt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

async fn erase(ctx: &Context, args: EmailArg) -> Result<(), CliError> {
    let email = parse_email(&args.email)?;
    ctx.store().await?.erase_subscriber(&email, &Actor::cli()).await?;
    if ctx.json {
        return output::json(&serde_json::json!({"erased": true}));
    }
    println!("erased {email}: personal data deleted; the address is suppressed and will never be mailed again");
    Ok(())
}

pub async fn unsubscribe(ctx: &Context, args: UnsubscribeArgs) -> Result<(), CliError> {
    let email = parse_email(&args.email)?;
    let store = ctx.store().await?;
    let list_id = match &args.list {
        Some(slug) => Some(store.list_by_slug(&parse_slug(slug)?).await?.id),
        None => None,
    };
    let outcome = store.unsubscribe(&email, list_id, &Actor::cli()).await?;
    if ctx.json {
        return output::json(&outcome);
    }
    for slug in &outcome.unsubscribed {
        println!("{email} unsubscribed from {slug}");
    }
    for slug in &outcome.already {
        println!("{email} was already unsubscribed from {slug}");
    }
    Ok(())
}
