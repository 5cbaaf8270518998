//! `tidings staff add|ls|remove` and `tidings token create|ls|revoke`.

use std::io::BufRead;

use clap::{Args, Subcommand};

use super::{CliError, Context, output};
use crate::domain::{EmailAddress, Role};
use crate::staff::{Secret256, hash_password};
use crate::store::Actor;

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff account; the password is read from stdin (one line)
    Add(AddStaffArgs),
    /// Show staff accounts and their roles
    Ls,
    /// Remove a staff account (its sessions end at once)
    Remove(EmailArg),
}

#[derive(Debug, Args)]
pub struct AddStaffArgs {
    email: String,
    /// owner, editor or viewer
    #[arg(long)]
    role: Role,
    /// Read the password from stdin (the default; kept for scripts that say so)
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct EmailArg {
    email: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it once
    Create(CreateTokenArgs),
    /// Show live tokens (never the tokens themselves)
    Ls,
    /// Revoke a token: it is refused from the next request on
    Revoke(NameArg),
}

#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    #[arg(long)]
    name: String,
    /// owner, editor or viewer
    #[arg(long)]
    role: Role,
}

#[derive(Debug, Args)]
pub struct NameArg {
    name: String,
}

impl clap::builder::ValueParserFactory for Role {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Role>())
    }
}

pub async fn staff(ctx: &Context, cmd: StaffCommand) -> Result<(), CliError> {
    match cmd {
        StaffCommand::Add(args) => add(ctx, args).await,
        StaffCommand::Ls => ls(ctx).await,
        StaffCommand::Remove(args) => {
            let email = parse_email(&args.email)?;
            ctx.store().await?.remove_staff(&email, &Actor::cli()).await?;
            println!("removed {email}");
            Ok(())
        }
    }
}

async fn add(ctx: &Context, args: AddStaffArgs) -> Result<(), CliError> {
    let email = parse_email(&args.email)?;
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password).map_err(|e| CliError::usage(format!("cannot read the password from stdin: {e}")))?;
    let password = password.trim_end_matches(['\r', '\n']);
    let hash = hash_password(password).map_err(CliError::usage)?;
    let member = ctx.store().await?.add_staff(&email, &hash, args.role, &Actor::cli()).await?;
    if ctx.json {
        return output::json(&member);
    }
    println!("added {} as {}", member.email, args.role);
    Ok(())
}

async fn ls(ctx: &Context) -> Result<(), CliError> {
    let staff = ctx.store().await?.list_staff().await?;
    if ctx.json {
        return output::json(&staff);
    }
    let rows: Vec<Vec<String>> = staff.iter().map(|s| vec![s.email.clone(), s.role.0.to_string(), s.created_at.format("%Y-%m-%d").to_string()]).collect();
    output::table(&["EMAIL", "ROLE", "SINCE"], &rows);
    Ok(())
}

pub async fn token(ctx: &Context, cmd: TokenCommand) -> Result<(), CliError> {
    let store = ctx.store().await?;
    match cmd {
        TokenCommand::Create(args) => {
            let name = args.name.trim();
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return Err(CliError::usage("--name must be 1 to 100 characters on one line"));
            }
            let token = Secret256::token();
            store.create_token(name, &token.digest(), args.role, &Actor::cli()).await?;
            if ctx.json {
                return output::json(&serde_json::json!({"name": name, "role": args.role, "token": token.expose()}));
            }
            eprintln!("token {name:?} ({}) — shown once, keep it now:", args.role);
            println!("{}", token.expose());
            Ok(())
        }
        TokenCommand::Ls => {
            let tokens = store.list_tokens().await?;
            if ctx.json {
                return output::json(&tokens);
            }
            let day = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into());
            let rows: Vec<Vec<String>> = tokens.iter().map(|t| vec![t.name.clone(), t.role.0.to_string(), day(Some(t.created_at)), day(t.last_used_at)]).collect();
            output::table(&["NAME", "ROLE", "CREATED", "LAST USED"], &rows);
            Ok(())
        }
        TokenCommand::Revoke(args) => {
            store.revoke_token(&args.name, &Actor::cli()).await?;
            println!("revoked {}", args.name);
            Ok(())
        }
    }
}

fn parse_email(s: &str) -> Result<EmailAddress, CliError> {
    EmailAddress::parse(s).map_err(|e| CliError::usage(format!("{s:?}: {e}")))
}
