//! `tidings bounce ingest [FILE...]`: one message per file, or one from stdin (an MTA pipe).

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, Context};
use crate::bounces::ingest::{IngestError, ingest};

/// A bounce bigger than this is cut off: what identifies it comes first.
const MAX_MESSAGE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum BounceCommand {
    /// Read bounce, complaint or auto-reply messages, record them and apply the bounce policy
    Ingest(IngestArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// RFC 5322 message files; stdin when none is named
    files: Vec<PathBuf>,
}

pub async fn run(ctx: &Context, cmd: BounceCommand) -> Result<(), CliError> {
    let BounceCommand::Ingest(args) = cmd;
    let app = ctx.app().await?;
    let inputs: Vec<Option<PathBuf>> = if args.files.is_empty() { vec![None] } else { args.files.into_iter().map(Some).collect() };
    let mut unreadable = Vec::new();
    for input in inputs {
        let name = input.as_ref().map_or("stdin".to_string(), |p| p.display().to_string());
        let raw = read_input(input.as_ref()).map_err(|e| CliError::usage(format!("{name}: {e}")))?;
        match ingest(&app, &raw, None).await {
            Ok(report) if ctx.json => println!("{}", serde_json::to_string(&report).map_err(CliError::runtime)?),
            Ok(report) => {
                let who = report.subscriber.as_deref().unwrap_or("no known subscriber");
                let addresses: Vec<&str> = report.recipients.iter().map(|r| r.address.as_str()).collect();
                println!("{name}: {:?} ({:?}) for {who}; recipients: {}; decisions: {:?}", report.kind, report.source, addresses.join(", "), report.decisions);
            }
            Err(IngestError::Unreadable(e)) => unreadable.push(format!("{name}: {e}")),
            Err(IngestError::Store(e)) => return Err(e.into()),
        }
    }
    if unreadable.is_empty() { Ok(()) } else { Err(CliError::usage(unreadable.join("; "))) }
}

fn read_input(path: Option<&PathBuf>) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    match path {
        Some(p) => std::fs::File::open(p)?.take(MAX_MESSAGE).read_to_end(&mut raw)?,
        None => std::io::stdin().lock().take(MAX_MESSAGE).read_to_end(&mut raw)?,
    };
    Ok(raw)
}
