//! `tidings issue add|render` and `tidings feed build`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, Context, output};
use crate::domain::EmailAddress;
use crate::publishing::{self, Format};

#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// Add or update an issue from a Markdown file with front matter; prints its slug
    Add(AddArgs),
    /// Print one rendering of an issue to stdout
    Render(RenderArgs),
    /// Queue the issue for its list, now or at a time; or send one test copy
    Send(super::send::SendArgs),
    /// Deliveries by state, rate, ETA and the most frequent errors
    Status(super::send::StatusArgs),
    /// Pause a send in progress
    Pause(super::send::SlugArg),
    /// Resume a paused send
    Resume(super::send::SlugArg),
    /// Cancel a send: what is still queued is not sent
    Cancel(super::send::SlugArg),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    slug: String,
    #[arg(long, value_enum)]
    format: Format,
    /// Render as this subscriber receives it [default: a sample subscriber]
    #[arg(long)]
    to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Write the archive pages and feeds as static files
    Build(BuildArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(long)]
    out: PathBuf,
}

pub async fn run(ctx: &Context, cmd: IssueCommand) -> Result<(), CliError> {
    match cmd {
        IssueCommand::Add(args) => add(ctx, args).await,
        IssueCommand::Render(args) => render(ctx, args).await,
        IssueCommand::Send(args) => super::send::send(ctx, args).await,
        IssueCommand::Status(args) => super::send::status(ctx, args).await,
        IssueCommand::Pause(args) => super::send::control(ctx, args, "pause").await,
        IssueCommand::Resume(args) => super::send::control(ctx, args, "resume").await,
        IssueCommand::Cancel(args) => super::send::control(ctx, args, "cancel").await,
    }
}

async fn add(ctx: &Context, args: AddArgs) -> Result<(), CliError> {
    let app = ctx.app().await?;
    let added = publishing::add_issue_file(&app, &args.file, &crate::store::Actor::cli()).await.map_err(|e| if e.is_bad_input() { CliError::usage(e) } else { CliError::runtime(e) })?;
    if ctx.json {
        return output::json(&added);
    }
    println!("{}", added.slug);
    Ok(())
}

async fn render(ctx: &Context, args: RenderArgs) -> Result<(), CliError> {
    let to = args.to.as_deref().map(|t| EmailAddress::parse(t).map_err(|e| CliError::usage(format!("--to {t:?}: {e}")))).transpose()?;
    let app = ctx.app().await?;
    let bytes = publishing::preview(&app, &args.slug, args.format, to.as_ref()).await.map_err(|e| match e {
        publishing::PreviewError::Store(s) => CliError::from(s),
        publishing::PreviewError::Message(m) => CliError::usage(format!("cannot build the message: {m}")),
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes).and_then(|_| stdout.flush()).map_err(|e| CliError::runtime(format!("cannot write to stdout: {e}")))
}

pub async fn feed(ctx: &Context, cmd: FeedCommand) -> Result<(), CliError> {
    let FeedCommand::Build(args) = cmd;
    let app = ctx.app().await?;
    let report = publishing::build_static_site(&app, &args.out).await.map_err(|e| match e {
        publishing::BuildError::Store(s) => CliError::from(s),
        other => CliError::runtime(other),
    })?;
    if ctx.json {
        return output::json(&report);
    }
    println!(
        "wrote {}: {} issue pages, {} index pages, {} feeds, {} media files",
        args.out.display(),
        report.issues,
        report.pages,
        report.feeds,
        report.media_files
    );
    Ok(())
}
