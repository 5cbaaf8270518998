//! `issue add FILE.md`: parse, check, render once, store.

use std::path::{Component, Path};

use chrono::NaiveDate;

use super::plaintext::{self, Converted, LayoutError};
use crate::app::App;
use crate::domain::{IssueParseError, IssueSource, ListSlug};
use crate::render::issue::{self, IssueView, RenderError};
use crate::render::markdown::{ShapeError, check_shape, relative_images};
use crate::store::{Actor, IssueSaved, NewIssue, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: String, source: IssueParseError },
    #[error("{path}: line {line}: field `list`: no list with slug {slug:?} (create it with `tidings list create`)")]
    UnknownList { path: String, line: usize, slug: String },
    #[error("{path}: line {line}: image {image:?} {problem}")]
    Image { path: String, line: usize, image: String, problem: &'static str },
    #[error("{path}: {source}")]
    Layout { path: String, source: LayoutError },
    /// The list a text-layout issue is for is given apart from the file (`--list`,
    /// `content.default_list`, a form field), so no line of the file names it.
    #[error("{path}: list {slug:?}: {problem}")]
    TextList { path: String, slug: String, problem: String },
    #[error("{path}: {source}")]
    Render { path: String, source: RenderError },
    #[error("{path}: {source}")]
    Shape { path: String, source: ShapeError },
    #[error("{path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("{path}: cannot build the message: {message}")]
    Message { path: String, message: String },
    /// Scheduling a send (front matter `send_at`), or changing an issue that is scheduled, is a
    /// send to a list: an owner's.
    #[error("{path}: only an owner may schedule a send ({reason})")]
    NotAllowed { path: String, reason: &'static str },
}

impl PublishError {
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Store { source, .. } => source.is_bad_input(),
            Self::Render { source: RenderError::TooDeep { .. } | RenderError::TooLarge { .. }, .. } => true,
            Self::Render { .. } | Self::Message { .. } => false,
            Self::NotAllowed { .. } => true,
            _ => true,
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct AddedIssue {
    pub id: i64,
    pub slug: String,
    pub list: String,
    pub saved: IssueSaved,
    pub scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    /// What converting a text-layout file found worth a look (`line N: …`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub async fn add_issue_file(app: &App, path: &Path, actor: &Actor) -> Result<AddedIssue, PublishError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PublishError::Read { path: shown.clone(), source })?;
    add_issue_text(app, path, &text, actor).await
}

/// SHA-256 of an issue file's text, hex.
pub fn source_digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// An issue parsed, checked and rendered, not stored yet.
pub struct Prepared {
    pub source: IssueSource,
    pub list: crate::store::List,
    pub language: String,
    pub rendered: issue::RenderedIssue,
}

/// Parses, checks and renders the text of the file at `path` (the path names it in errors and
/// finds its images).
pub async fn prepare_issue(app: &App, path: &Path, text: &str) -> Result<Prepared, PublishError> {
    let shown = path.display().to_string();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let source = IssueSource::parse(text, stem).map_err(|source| PublishError::Parse { path: shown.clone(), source })?;
    let list = match app.store.list_by_slug(&source.list).await {
        Ok(list) => list,
        Err(StoreError::UnknownList(slug)) => return Err(PublishError::UnknownList { path: shown, line: field_line(text, "list"), slug }),
        Err(e) => return Err(PublishError::Store { path: shown, source: e }),
    };
    check_shape(&source.body).map_err(|e| PublishError::Shape { path: shown.clone(), source: in_file(e, text, &source.body) })?;
    check_images(path, text, &source.body)?;
    let language = source.language.as_ref().map_or(list.language.clone(), |l| l.to_string());
    let (source, list, language, rendered) = render_off_the_runtime(app, source, list, language).await;
    let rendered = rendered.map_err(|e| PublishError::Render { path: shown.clone(), source: e })?;
    Ok(Prepared { source, list, language, rendered })
}

/// At most this many renders run at once, so a burst of large drafts cannot take every thread.
static RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Renders on the blocking pool: a long issue takes a while, and the async workers must keep
/// answering requests meanwhile.
async fn render_off_the_runtime(
    app: &App,
    source: IssueSource,
    list: crate::store::List,
    language: String,
) -> (IssueSource, crate::store::List, String, Result<issue::RenderedIssue, RenderError>) {
    let permit = RENDERS.acquire().await.expect("the semaphore is never closed");
    let site = app.site.clone();
    // The permit lives in the task, which runs on even if the request is dropped.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let rendered = issue::render(&IssueView::of_source(&source, &language, &list.name, !list.public), &source.body, &site);
        (source, list, language, rendered)
    })
    .await
    .expect("rendering does not panic")
}

/// A shape error's line, counted in the whole file rather than the body.
fn in_file(error: ShapeError, text: &str, body: &str) -> ShapeError {
    let before = text.lines().count().saturating_sub(body.lines().count());
    match error {
        ShapeError::TooDeep { line, what, depth, limit } => ShapeError::TooDeep { line: line + before, what, depth, limit },
        other => other,
    }
}

/// Adds an issue from the text of the file at `path`, with every right (the CLI, the content
/// folder).
pub async fn add_issue_text(app: &App, path: &Path, text: &str, actor: &Actor) -> Result<AddedIssue, PublishError> {
    add_issue_with(app, path, text, actor, true, true).await
}

/// As `add_issue_text`, for a caller who may or may not send to lists (`may_send`): one who may
/// not can neither set `send_at` nor change an issue that is scheduled.
/// Drafts saved this way (the API, the admin pages) stay off the archive and feeds until an
/// owner schedules or sends them.
pub async fn add_issue_as(app: &App, path: &Path, text: &str, actor: &Actor, may_send: bool) -> Result<AddedIssue, PublishError> {
    add_issue_with(app, path, text, actor, may_send, false).await
}

/// `released`: the operator published the file (the CLI, the content folder), so it is public on
/// its date as it is.
async fn add_issue_with(app: &App, path: &Path, text: &str, actor: &Actor, may_send: bool, released: bool) -> Result<AddedIssue, PublishError> {
    add_with_digest(app, path, text, source_digest(text), actor, may_send, released).await
}

/// Whether a file is in the newsletter's text layout rather than Markdown with front matter: a
/// `.txt` file, or one that starts with a masthead instead of `+++`.
pub fn is_text_layout(path: &Path, text: &str) -> bool {
    let txt = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    txt || !text.trim_start_matches('\u{feff}').trim_start().starts_with("+++") && plaintext::is_layout(text)
}

/// An issue in the text layout as the Markdown with front matter that `issue add` reads, for
/// `list` and dated `date`; with the SHA-256 of its text, which stands for the file (the Markdown
/// has the date in it, which may be today's).
pub fn convert_text(path: &Path, bytes: &[u8], list: &str, date: NaiveDate) -> Result<(Converted, String), PublishError> {
    let shown = path.display().to_string();
    let layout = |source| PublishError::Layout { path: shown.clone(), source };
    let (text, decoded) = plaintext::decode(bytes).map_err(layout)?;
    let slug = ListSlug::parse(list).map_err(|e| PublishError::TextList { path: shown.clone(), slug: list.to_string(), problem: e.to_string() })?;
    let mut converted = plaintext::convert(&text, &slug, date).map_err(layout)?;
    converted.warnings.splice(0..0, decoded);
    Ok((converted, source_digest(&text)))
}

/// Adds an issue from a file in the text layout, with every right (the CLI, the content folder).
pub async fn add_text_issue(app: &App, path: &Path, bytes: &[u8], list: &str, date: NaiveDate, actor: &Actor) -> Result<AddedIssue, PublishError> {
    let (converted, digest) = convert_text(path, bytes, list, date)?;
    let added = add_with_digest(app, path, &converted.markdown, digest, actor, true, true).await.map_err(|e| match e {
        PublishError::UnknownList { path, slug, .. } => PublishError::TextList { path, slug, problem: "no such list (create it with `tidings list create`)".into() },
        other => other,
    })?;
    Ok(AddedIssue { warnings: converted.warnings.iter().map(ToString::to_string).collect(), ..added })
}

async fn add_with_digest(app: &App, path: &Path, text: &str, digest: String, actor: &Actor, may_send: bool, released: bool) -> Result<AddedIssue, PublishError> {
    let shown = path.display().to_string();
    let Prepared { source, list, language, rendered } = prepare_issue(app, path, text).await?;
    let store_err = |source| PublishError::Store { path: shown.clone(), source };
    if !may_send {
        let refuse = |reason| PublishError::NotAllowed { path: shown.clone(), reason };
        if source.send_at.is_some() {
            return Err(refuse("remove `send_at`; an owner schedules the send"));
        }
        match app.store.issue_by_slug(source.slug.as_str()).await {
            Ok(existing) if existing.status == "scheduled" => return Err(refuse("the issue is scheduled already")),
            Ok(_) | Err(StoreError::UnknownIssue(_)) => {}
            Err(e) => return Err(store_err(e)),
        }
    }
    let new = NewIssue {
        list_id: list.id,
        slug: source.slug.as_str(),
        title: &source.title,
        subtitle: &source.subtitle,
        volume: source.volume,
        number: source.number,
        published_on: source.date,
        language: &language,
        summary: &source.summary,
        source_path: Some(&shown),
        source_markdown: &source.body,
        source_digest: Some(&digest),
        body_html: &rendered.body_html,
        email_html: &rendered.email_html,
        email_text: &rendered.email_text,
        send_at: source.send_at,
        released,
    };
    let (id, saved) = app.store.save_issue(new, actor).await.map_err(store_err)?;
    Ok(AddedIssue { id, slug: source.slug.to_string(), list: list.slug, saved, scheduled_for: source.send_at, warnings: Vec::new() })
}

/// Relative images must exist beside the issue file, inside the content folder.
fn check_images(path: &Path, text: &str, body: &str) -> Result<(), PublishError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    for image in relative_images(body) {
        let fail = |problem| PublishError::Image { path: path.display().to_string(), line: line_of(text, &image), image: image.clone(), problem };
        let relative = Path::new(&image);
        if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(fail("must be a path inside the content folder (no '..', no absolute path)"));
        }
        if !dir.join(relative).is_file() {
            return Err(fail("does not exist next to the issue file"));
        }
    }
    Ok(())
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1)
}

fn field_line(text: &str, field: &str) -> usize {
    text.lines().position(|l| l.trim_start().strip_prefix(field).is_some_and(|r| r.trim_start().starts_with('='))).map_or(1, |i| i + 1)
}

/// A stored issue as the text of its file, front matter rebuilt from what is stored, so it can
/// be edited and saved again.
pub fn source_text(issue: &crate::store::Issue, markdown: &str) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut front = vec![format!("list = {}", quote(&issue.list_slug)), format!("slug = {}", quote(&issue.slug)), format!("title = {}", quote(&issue.title))];
    if !issue.subtitle.is_empty() {
        front.push(format!("subtitle = {}", quote(&issue.subtitle)));
    }
    front.extend(issue.volume.map(|v| format!("volume = {v}")));
    front.extend(issue.number.map(|n| format!("number = {n}")));
    front.push(format!("date = {}", issue.published_on));
    front.push(format!("language = {}", quote(&issue.language)));
    if !issue.summary.is_empty() {
        front.push(format!("summary = {}", quote(&issue.summary)));
    }
    front.extend(issue.send_at.map(|t| format!("send_at = {}", t.format("%Y-%m-%dT%H:%M:%SZ"))));
    format!("+++\n{}\n+++\n\n{}", front.join("\n"), markdown.trim_start())
}
