//! `tidings db status` and `tidings db copy --to URL`: where the schema stands, and moving a SQLite
//! installation into PostgreSQL.

use clap::{Args, Subcommand};

use super::{CliError, Context, output};
use crate::delivery::engine::{process_alive, this_hostname};
use crate::store::{self, migrations};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// The backend, the schema version and the migrations not yet applied (changes nothing)
    Status,
    /// Copy this SQLite installation into an empty PostgreSQL database, verified table by table
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The target, `postgres://USER:PASSWORD@HOST:PORT/DATABASE`; it must exist and be empty
    #[arg(long, value_name = "URL")]
    to: String,
}

pub async fn run(ctx: &Context, command: DbCommand) -> Result<(), CliError> {
    match command {
        DbCommand::Status => status(ctx).await,
        DbCommand::Copy(args) => copy(ctx, args).await,
    }
}

async fn status(ctx: &Context) -> Result<(), CliError> {
    let status = migrations::status(&ctx.config.database.url).await?;
    if ctx.json {
        return output::json(&status);
    }
    println!("backend: {} ({})", status.backend, status.database);
    println!("schema version: {} (this tidings knows up to {})", status.schema_version, status.latest_known);
    if status.pending.is_empty() {
        println!("pending migrations: none");
    } else {
        println!("pending migrations (applied by `tidings init` or at the next start):");
        for m in &status.pending {
            println!("  {:04} {}", m.version, m.description);
        }
    }
    if !status.unknown_applied.is_empty() {
        println!("newer than this tidings: migrations {:?} were applied by a later version; run that version", status.unknown_applied);
    }
    Ok(())
}

async fn copy(ctx: &Context, args: CopyArgs) -> Result<(), CliError> {
    if !store::is_postgres_url(&args.to) {
        return Err(CliError::usage("--to must be a postgres:// URL: db copy moves a SQLite installation into PostgreSQL".to_string()));
    }
    if store::is_postgres_url(&ctx.config.database.url) {
        return Err(CliError::usage("database.url is PostgreSQL already: db copy reads a SQLite installation".to_string()));
    }
    let source = ctx.existing_store().await?;
    let live = source.live_instances(&this_hostname(), process_alive).await?;
    if let Some(first) = live.first() {
        return Err(CliError::usage(format!(
            "a Tidings process (pid {} on {}) is using the database: stop `tidings serve` first, so nothing changes while it is copied",
            first.pid, first.hostname
        )));
    }
    let target = store::describe_url(&args.to);
    let copied = source
        .copy_to_postgres(&args.to, |t| {
            if !ctx.json {
                eprintln!("copied {} ({} rows)", t.table, t.target_rows);
            }
        })
        .await
        .map_err(|e| if e.is_bad_input() || matches!(e, store::StoreError::Unsupported(_)) { CliError::usage(format!("{target}: {e}")) } else { CliError::runtime(format!("{target}: {e}")) })?;
    if ctx.json {
        return output::json(&serde_json::json!({"target": target, "tables": copied}));
    }
    let rows: Vec<Vec<String>> = copied.iter().map(|t| vec![t.table.clone(), t.source_rows.to_string(), t.target_rows.to_string()]).collect();
    output::table(&["TABLE", "SQLITE", "POSTGRESQL"], &rows);
    println!("copied into {target}; every table's rows match. Point database.url at it and start tidings.");
    Ok(())
}
