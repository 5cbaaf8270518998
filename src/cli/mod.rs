//! The command-line face: parses arguments, calls the engine, prints. No business logic here.

mod backup;
mod bounce;
mod db;
mod doctor;
mod error;
mod issue;
mod list;
mod output;
mod send;
mod staff;
mod subscriber;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use error::CliError;

use crate::app::App;
use crate::config::Config;
use crate::store::Store;

/// The package version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TIDINGS_GIT_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(name = "tidings", version = VERSION, about = "A self-hosted newsletter mailer and feed publisher")]
pub struct Cli {
    /// Configuration file [default: config/tidings.toml when it exists, else built-in defaults]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print one JSON document instead of a table
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database and apply migrations (idempotent)
    Init,
    /// Manage lists
    #[command(subcommand)]
    List(list::ListCommand),
    /// Manage subscribers
    #[command(subcommand)]
    Subscriber(subscriber::SubscriberCommand),
    /// Unsubscribe an address from one list, or from all its lists
    Unsubscribe(subscriber::UnsubscribeArgs),
    /// Add, render and (later) send issues
    #[command(subcommand)]
    Issue(issue::IssueCommand),
    /// Build the static archive and feeds
    #[command(subcommand)]
    Feed(issue::FeedCommand),
    /// Run the scheduler and delivery workers
    Deliver(send::DeliverArgs),
    /// Run the daemon: scheduler, delivery workers, HTTP server and content watcher
    Serve,
    /// Bounces and complaints
    #[command(subcommand)]
    Bounce(bounce::BounceCommand),
    /// Staff accounts for the admin pages
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// API tokens for scripts
    #[command(subcommand)]
    Token(staff::TokenCommand),
    /// Prune what [retention] no longer keeps (serve does it every hour); --dry-run counts it
    Prune {
        /// Count what would go, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Check the configuration, the relay (TLS, AUTH, sender) and the DNS records (SPF, DKIM,
    /// DMARC, MX, PTR), with advice for each failure; exit 1 when something a send needs fails
    Doctor,
    /// The database: schema status, and copying a SQLite installation into PostgreSQL
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Write a verified, consistent copy of the database while Tidings keeps running
    Backup(backup::BackupArgs),
    /// Put a backup in place of the database (Tidings must be stopped)
    Restore(backup::RestoreArgs),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions {
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `tidings man > /usr/local/share/man/man1/tidings.1`
    Man,
}

/// What every verb gets: the configuration and how to print.
pub struct Context {
    pub config: Config,
    pub json: bool,
}

impl Context {
    pub async fn app(&self) -> Result<App, CliError> {
        Ok(App::open(self.config.clone()).await?)
    }

    pub async fn store(&self) -> Result<Store, CliError> {
        let db = &self.config.database;
        Ok(Store::open(&db.url, db.max_connections).await?)
    }

    /// The database, which must exist already.
    pub async fn existing_store(&self) -> Result<Store, CliError> {
        let db = &self.config.database;
        if let Some(file) = crate::store::backup::database_file(&db.url).filter(|f| !f.exists()) {
            let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
            return Err(CliError::usage(format!("there is no database at {} (database.url {:?}, working directory {cwd}): give the configuration with --config, or an absolute sqlite:/// path", file.display(), crate::store::describe_url(&db.url))));
        }
        Ok(Store::open_existing(&db.url, db.max_connections).await?)
    }
}

/// Parses the command line, runs the verb, and turns the outcome into an exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // These need no configuration, so a broken one does not stop them.
    match &cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "tidings", &mut script);
            return print_bytes(&script);
        }
        Command::Man => {
            let mut page = Vec::new();
            if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
                return report(&CliError::runtime(format!("cannot render the manual page: {e}")));
            }
            return print_bytes(&page);
        }
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return report(&CliError::usage(e)),
    };
    init_tracing(if matches!(cli.command, Command::Serve) { "info" } else { "warn" }, config.log.format);
    crate::bounces::read::quiet_parser_panics();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // `deliver` is all waiting on sockets; SQLite runs on sqlx's own threads. One scheduler
    // thread spares the cross-thread wake-ups that otherwise cost a fifth of the send rate.
    if matches!(cli.command, Command::Deliver(_)) && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        runtime.worker_threads(1);
    }
    let result = runtime
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(format!("cannot start the async runtime: {e}")))
        .and_then(|rt| rt.block_on(dispatch(cli, config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Writes to stdout; a reader that stops early (`| head`) is not a failure.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => report(&CliError::runtime(format!("cannot write to stdout: {e}"))),
        _ => ExitCode::SUCCESS,
    }
}

fn report(err: &CliError) -> ExitCode {
    eprintln!("tidings: {err}");
    ExitCode::from(err.exit_code())
}

async fn dispatch(cli: Cli, config: Config) -> Result<(), CliError> {
    let ctx = Context { config, json: cli.json };
    match cli.command {
        Command::Init => init(&ctx).await,
        Command::List(cmd) => list::run(&ctx, cmd).await,
        Command::Subscriber(cmd) => subscriber::run(&ctx, cmd).await,
        Command::Unsubscribe(args) => subscriber::unsubscribe(&ctx, args).await,
        Command::Issue(cmd) => issue::run(&ctx, cmd).await,
        Command::Feed(cmd) => issue::feed(&ctx, cmd).await,
        Command::Deliver(args) => send::deliver(&ctx, args).await,
        Command::Serve => send::serve(&ctx).await,
        Command::Bounce(cmd) => bounce::run(&ctx, cmd).await,
        Command::Staff(cmd) => staff::staff(&ctx, cmd).await,
        Command::Token(cmd) => staff::token(&ctx, cmd).await,
        Command::Db(cmd) => db::run(&ctx, cmd).await,
        Command::Doctor => doctor::run(&ctx).await,
        Command::Prune { dry_run } => prune(&ctx, dry_run).await,
        Command::Backup(args) => backup::backup(&ctx, args).await,
        Command::Restore(args) => backup::restore(&ctx, args).await,
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

async fn init(ctx: &Context) -> Result<(), CliError> {
    let store = ctx.store().await?;
    // Databases made before pruning existed keep freed space until converted, once.
    match store.enable_incremental_vacuum().await {
        Ok(true) => eprintln!("tidings: the database now gives space freed by pruning back to the disk (converted once with VACUUM)"),
        Ok(false) => {}
        Err(e) => eprintln!("tidings: could not convert the database to incremental vacuum ({e}); run `tidings init` again while no tidings process uses it"),
    }
    let versions = store.applied_migrations().await?;
    let version = versions.last().copied().unwrap_or_default();
    if ctx.json {
        output::json(&serde_json::json!({"database": crate::store::describe_url(&ctx.config.database.url), "schema_version": version}))
    } else {
        println!("database {} is ready (schema version {version})", crate::store::describe_url(&ctx.config.database.url));
        Ok(())
    }
}

/// Logs go to stderr; `TIDINGS_LOG` (or `RUST_LOG`) sets the filter. By default the daemon logs
/// at info and the other verbs only warnings, so that a verb's own output stays clean.
fn init_tracing(default: &str, format: crate::config::LogFormat) {
    let filter = std::env::var("TIDINGS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.into());
    let logs = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).with_writer(std::io::stderr);
    let _ = match format {
        // One object a line with the event's fields at the top level, as collectors expect.
        crate::config::LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).try_init(),
        crate::config::LogFormat::Text => logs.try_init(),
    };
}

async fn prune(ctx: &Context, dry_run: bool) -> Result<(), CliError> {
    let store = ctx.existing_store().await?;
    let report = crate::operations::retention::prune(&store, &ctx.config.retention, dry_run).await?;
    if ctx.json {
        return output::json(&report);
    }
    let verb = if dry_run { "would prune" } else { "pruned" };
    println!("{verb} the delivery rows of {} finished issues ({} rows; their totals are kept) and {} events", report.issues, report.deliveries, report.events);
    if !report.returns_space {
        println!("freed space is reused but not given back to the disk: run `tidings init` once, with tidings stopped, to change that");
    }
    Ok(())
}
