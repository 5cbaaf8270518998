//! `tidings list create|ls`.

use clap::{Args, Subcommand};

use super::{CliError, Context, output};
use crate::operations::lists::{ListInput, create_list};
use crate::store::Actor;

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Create a list
    Create(CreateArgs),
    /// Show lists with subscriber counts by status
    Ls,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Short identifier: lower-case letters, digits, '-' or '_'
    slug: String,
    /// Display name
    #[arg(long)]
    name: String,
    /// BCP 47 language tag [default: site.default_language]
    #[arg(long)]
    language: Option<String>,
    #[arg(long, default_value = "")]
    description: String,
    /// Keep the list's issues off the public archive and feeds: each subscriber gets a personal feed
    #[arg(long)]
    private: bool,
}

pub async fn run(ctx: &Context, cmd: ListCommand) -> Result<(), CliError> {
    match cmd {
        ListCommand::Create(args) => create(ctx, args).await,
        ListCommand::Ls => ls(ctx).await,
    }
}

async fn create(ctx: &Context, args: CreateArgs) -> Result<(), CliError> {
    let store = ctx.store().await?;
    let input = ListInput { slug: &args.slug, name: &args.name, language: args.language.as_deref(), description: &args.description, public: !args.private };
    let list = create_list(&store, input, &ctx.config.site.default_language, &Actor::cli()).await?;
    if ctx.json {
        return output::json(&list);
    }
    println!("created list {} ({}, {})", list.slug, list.name, list.language);
    Ok(())
}

async fn ls(ctx: &Context) -> Result<(), CliError> {
    let lists = ctx.store().await?.list_counts().await?;
    if ctx.json {
        return output::json(&lists);
    }
    let rows: Vec<Vec<String>> = lists
        .iter()
        .map(|l| {
            vec![
                l.slug.clone(),
                l.name.clone(),
                l.language.clone(),
                l.confirmed.to_string(),
                l.pending.to_string(),
                l.unsubscribed.to_string(),
                l.bounced.to_string(),
                l.complained.to_string(),
            ]
        })
        .collect();
    output::table(&["SLUG", "NAME", "LANGUAGE", "CONFIRMED", "PENDING", "UNSUBSCRIBED", "BOUNCED", "COMPLAINED"], &rows);
    Ok(())
}
