//! `tidings issue add|convert|render` and `tidings feed build`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, Context, output};
use crate::domain::EmailAddress;
use crate::publishing::{self, Format};

#[derive(Debug, Subcommand)]
pub enum IssueCommand {
    /// Add or update an issue from a Markdown file with front matter, or from a text file in the
    /// newsletter's layout (with --list); prints its slug
    Add(AddArgs),
    /// Print the Markdown with front matter that `issue add` would store for a text file in the
    /// newsletter's layout, to review and correct
    Convert(ConvertArgs),
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
    #[command(flatten)]
    text: TextArgs,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    file: PathBuf,
    #[command(flatten)]
    text: TextArgs,
}

/// What a text-layout file does not say itself.
#[derive(Debug, Args)]
pub struct TextArgs {
    /// The list a text-layout issue is for (a Markdown file names it in its front matter)
    #[arg(long)]
    list: Option<String>,
    /// The issue's date, YYYY-MM-DD, for a text-layout issue [default: today]
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
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
        IssueCommand::Convert(args) => convert(args),
        IssueCommand::Render(args) => render(ctx, args).await,
        IssueCommand::Send(args) => super::send::send(ctx, args).await,
        IssueCommand::Status(args) => super::send::status(ctx, args).await,
        IssueCommand::Pause(args) => super::send::control(ctx, args, "pause").await,
        IssueCommand::Resume(args) => super::send::control(ctx, args, "resume").await,
        IssueCommand::Cancel(args) => super::send::control(ctx, args, "cancel").await,
    }
}

async fn add(ctx: &Context, args: AddArgs) -> Result<(), CliError> {
    let publish_error = |e: publishing::PublishError| if e.is_bad_input() { CliError::usage(e) } else { CliError::runtime(e) };
    let text = read_if_text(&args.file)?;
    if text.is_none() && (args.text.list.is_some() || args.text.date.is_some()) {
        return Err(CliError::usage(format!("{}: --list and --date are for a file in the text layout; a Markdown file sets `list` and `date` in its front matter", args.file.display())));
    }
    let app = ctx.app().await?;
    let actor = crate::store::Actor::cli();
    let added = match text {
        Some(bytes) => {
            let list = needs_list(&args.file, &args.text)?;
            let added = publishing::add_text_issue(&app, &args.file, &bytes, list, date_or_today(&args.text), &actor).await.map_err(publish_error)?;
            warn(&args.file, &added.warnings);
            added
        }
        None => publishing::add_issue_file(&app, &args.file, &actor).await.map_err(publish_error)?,
    };
    if ctx.json {
        return output::json(&added);
    }
    println!("{}", added.slug);
    Ok(())
}

fn convert(args: ConvertArgs) -> Result<(), CliError> {
    let bytes = std::fs::read(&args.file).map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let list = needs_list(&args.file, &args.text)?;
    let (converted, _) = publishing::convert_text(&args.file, &bytes, list, date_or_today(&args.text)).map_err(CliError::usage)?;
    warn(&args.file, &converted.warnings.iter().map(ToString::to_string).collect::<Vec<_>>());
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(converted.markdown.as_bytes()).and_then(|_| stdout.flush()).map_err(|e| CliError::runtime(format!("cannot write to stdout: {e}")))
}

/// The file's bytes when it is in the text layout (`.txt`, or a masthead where Markdown would
/// have its `+++`); None for Markdown.
fn read_if_text(path: &std::path::Path) -> Result<Option<Vec<u8>>, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(publishing::is_text_layout(path, &text).then_some(bytes))
}

fn needs_list<'a>(path: &std::path::Path, args: &'a TextArgs) -> Result<&'a str, CliError> {
    args.list.as_deref().ok_or_else(|| CliError::usage(format!("{}: a file in the text layout needs --list SLUG, the list the issue is for", path.display())))
}

fn date_or_today(args: &TextArgs) -> chrono::NaiveDate {
    args.date.unwrap_or_else(|| chrono::Utc::now().date_naive())
}

/// Warnings go to stderr, so that stdout stays the slug or the Markdown.
fn warn(path: &std::path::Path, warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
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
