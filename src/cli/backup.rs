//! `tidings backup` and `tidings restore`: an online copy of the SQLite database, verified, and
//! putting one back in place of a stopped installation's database.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, Context, output};
use crate::delivery::engine::{process_alive, this_hostname};
use crate::store::backup::{self, BackupReport};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy; it must not exist yet
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file `tidings backup` wrote
    file: PathBuf,
}

pub async fn backup(ctx: &Context, args: BackupArgs) -> Result<(), CliError> {
    if args.out.exists() {
        return Err(CliError::usage(format!("{} already exists: a backup never overwrites a file, choose another name", args.out.display())));
    }
    if crate::store::is_postgres_url(&ctx.config.database.url) {
        return Err(CliError::usage("tidings backup copies a SQLite file; back up a PostgreSQL database with pg_dump (see the README's Deploying section)".to_string()));
    }
    let store = ctx.existing_store().await?;
    if let Err(e) = store.backup_into(&args.out).await {
        let _ = std::fs::remove_file(&args.out);
        return Err(CliError::runtime(format!("cannot write the backup to {}: {e}; nothing was kept (check the folder exists, is writable and has room)", args.out.display())));
    }
    let report = match backup::inspect(&args.out).await {
        Ok(r) if r.integrity == "ok" => r,
        Ok(r) => return Err(discard(&args.out, &format!("its integrity check says {}", r.integrity))),
        Err(e) => return Err(discard(&args.out, &e.to_string())),
    };
    print(ctx, "backup", &report)
}

fn discard(path: &Path, why: &str) -> CliError {
    let _ = std::fs::remove_file(path);
    CliError::runtime(format!("the backup written to {} does not read back ({why}); it was deleted", path.display()))
}

pub async fn restore(ctx: &Context, args: RestoreArgs) -> Result<(), CliError> {
    if crate::store::is_postgres_url(&ctx.config.database.url) {
        return Err(CliError::usage("tidings restore puts back a SQLite file; a PostgreSQL database is restored with pg_restore (see the README's Deploying section)".to_string()));
    }
    let unusable = |why: String| CliError::usage(format!("{} cannot be restored: {why}", args.file.display()));
    let report = backup::inspect(&args.file).await.map_err(|e| unusable(e.to_string()))?;
    if report.integrity != "ok" {
        return Err(unusable(format!("its integrity check says {}", report.integrity)));
    }
    let known = backup::latest_schema_version();
    if report.schema_version > known {
        return Err(unusable(format!("it has schema version {}, newer than this tidings knows ({known}): restore it with the version that wrote it", report.schema_version)));
    }
    let url = &ctx.config.database.url;
    let target = backup::database_file(url).ok_or_else(|| CliError::usage(format!("database.url {url:?} names no database file to restore into")))?;
    let previous = std::fs::metadata(&target).ok();
    if previous.is_some() {
        refuse_if_running(ctx).await?;
    }
    replace(&args.file, &target, previous.as_ref()).map_err(|e| CliError::runtime(format!("cannot put the backup in place at {}: {e}; the database there is unchanged", target.display())))?;
    // Opening applies any migrations the backup is behind on.
    let store = ctx.store().await?;
    store.close().await;
    let restored = backup::inspect(&target).await?;
    print(ctx, "restored", &restored)
}

async fn refuse_if_running(ctx: &Context) -> Result<(), CliError> {
    let store = ctx.existing_store().await?;
    let live = store.live_instances(&this_hostname(), process_alive).await?;
    store.close().await;
    if let Some(instance) = live.first() {
        return Err(CliError::usage(format!(
            "the database is in use by tidings (pid {} on {}, seen {}): stop it before restoring over its database",
            instance.pid,
            instance.hostname,
            instance.heartbeat_at.format("%H:%M:%S UTC")
        )));
    }
    Ok(())
}

/// Copies `from` next to `target`, then renames it over `target`, so a failure leaves the old
/// database whole. The copy gets the old file's owner and mode (a restore run with sudo must
/// not leave a file the service user cannot open). The old write-ahead log goes first: left
/// beside the new file, SQLite would replay it into the restored database.
fn replace(from: &Path, target: &Path, previous: Option<&std::fs::Metadata>) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let staging = target.with_extension("restoring");
    std::fs::copy(from, &staging)?;
    if let Some(old) = previous {
        std::fs::set_permissions(&staging, old.permissions())?;
        std::os::unix::fs::chown(&staging, Some(old.uid()), Some(old.gid()))?;
    }
    std::fs::File::open(&staging)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(&staging, target)
}

fn print(ctx: &Context, verb: &str, r: &BackupReport) -> Result<(), CliError> {
    if ctx.json {
        return output::json(r);
    }
    println!(
        "{verb} {}: {:.1} MB, schema version {}, integrity {}\n{} lists, {} subscribers, {} issues, {} deliveries ({} sent), {} suppressions, {} events",
        r.path.display(),
        r.bytes as f64 / 1e6,
        r.schema_version,
        r.integrity,
        r.lists,
        r.subscribers,
        r.issues,
        r.deliveries,
        r.deliveries_sent,
        r.suppressions,
        r.events
    );
    Ok(())
}
