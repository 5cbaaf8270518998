//! `feed build --out DIR`: the archive as static files, for any web server or static host.
//!
//! ```text
//! index.html, page/N/index.html          all public lists, newest first
//! lists/SLUG/index.html, …/page/N/…      one list
//! issues/SLUG/index.html                 the web version of each issue
//! feed.xml, atom.xml, lists/SLUG/{feed,atom}.xml
//! media/…                                images from the content folder
//! static/logo.png                        the feeds' channel image
//! ```

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::app::App;
use crate::render::archive::{self, IndexPage, PAGE_SIZE};
use crate::render::feeds::{self, FeedMeta};
use crate::store::{Issue, List, StoreError};

pub const LOGO: &[u8] = include_bytes!("../../templates/static/logo.png");

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

#[derive(Debug, Default, serde::Serialize)]
pub struct BuildReport {
    pub issues: usize,
    pub pages: usize,
    pub feeds: usize,
    pub media_files: usize,
}

struct Out<'a> {
    root: &'a Path,
    report: BuildReport,
}

impl Out<'_> {
    fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<(), BuildError> {
        let path = self.root.join(relative);
        let fail = |source| BuildError::Write { path: path.display().to_string(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(&path, bytes).map_err(fail)
    }
}

pub async fn build_static_site(app: &App, out_dir: &Path) -> Result<BuildReport, BuildError> {
    let mut out = Out { root: out_dir, report: BuildReport::default() };
    let now = Utc::now();
    let all = app.store.public_issues(None, now, i64::MAX, 0).await?;
    for issue in &all {
        let page = archive::issue_page(&app.site, &super::view(issue), &issue.body_html);
        out.write(&format!("issues/{}/index.html", issue.slug), page.as_bytes())?;
        out.report.issues += 1;
    }
    write_section(app, &mut out, &all, &site_meta(app))?;
    for list in app.store.public_lists().await? {
        let issues: Vec<Issue> = all.iter().filter(|i| i.list_id == list.id).cloned().collect();
        let path = format!("/lists/{}", list.slug);
        let meta = list_meta(&list, &path);
        write_section(app, &mut out, &issues, &meta)?;
    }
    out.write("static/logo.png", LOGO)?;
    out.report.media_files = copy_media(&app.config.content.issues_dir, &out_dir.join("media"))?;
    Ok(out.report)
}

pub fn list_meta<'a>(list: &'a List, path: &'a str) -> FeedMeta<'a> {
    FeedMeta { title: &list.name, description: &list.description, language: &list.language, path }
}

/// The paged index and the two feeds of one section (the whole site or one list).
fn write_section(app: &App, out: &mut Out<'_>, issues: &[Issue], meta: &FeedMeta<'_>) -> Result<(), BuildError> {
    let prefix = meta.path.trim_start_matches('/');
    let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    let pages = page_count(issues.len() as i64);
    for page in 1..=pages {
        let chunk: Vec<Issue> = issues.iter().skip(((page - 1) * PAGE_SIZE) as usize).take(PAGE_SIZE as usize).cloned().collect();
        let file = if page == 1 { format!("{prefix}index.html") } else { format!("{prefix}page/{page}/index.html") };
        out.write(&file, index_html(app, meta, &chunk, page, pages).as_bytes())?;
        out.report.pages += 1;
    }
    let latest = &issues[..issues.len().min(app.config.feeds.max_items as usize)];
    out.write(&format!("{prefix}feed.xml"), feed_xml(app, meta, latest, FeedKind::Rss).as_bytes())?;
    out.write(&format!("{prefix}atom.xml"), feed_xml(app, meta, latest, FeedKind::Atom).as_bytes())?;
    out.report.feeds += 2;
    Ok(())
}

/// How many index pages `issues` public issues take (at least one, possibly empty).
pub fn page_count(issues: i64) -> i64 {
    ((issues + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
}

/// One page of a section's index; `issues` are that page's issues.
pub fn index_html(app: &App, meta: &FeedMeta<'_>, issues: &[Issue], page: i64, pages: i64) -> String {
    let views: Vec<_> = issues.iter().map(super::view).collect();
    let index = IndexPage { heading: meta.title, language: meta.language, path: meta.path, page, pages };
    archive::index_page(&app.site, &index, &views)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Rss,
    Atom,
}

/// A section's feed of `issues` (the latest first).
pub fn feed_xml(app: &App, meta: &FeedMeta<'_>, issues: &[Issue], kind: FeedKind) -> String {
    let views: Vec<_> = issues.iter().map(super::view).collect();
    let items: Vec<_> = views.iter().zip(issues).map(|(v, i)| archive::feed_item(v, &i.body_html, i.updated_at)).collect();
    match kind {
        FeedKind::Rss => feeds::rss(&app.site, meta, &items),
        FeedKind::Atom => feeds::atom(&app.site, meta, &items),
    }
}

/// The feed description of the whole site.
pub fn site_meta(app: &App) -> FeedMeta<'_> {
    FeedMeta { title: &app.site.title, description: "", language: &app.config.site.default_language, path: "" }
}

/// Copies everything in the content folder but the issue files themselves.
fn copy_media(from: &Path, to: &Path) -> Result<usize, BuildError> {
    let mut copied = 0;
    let mut stack: Vec<PathBuf> = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !entry.file_name().to_string_lossy().starts_with('.') {
                stack.push(path);
            } else if let Some(relative) = path.strip_prefix(from).ok().filter(|r| r.to_str().and_then(super::media_type).is_some()) {
                let target = to.join(relative);
                let fail = |source| BuildError::Write { path: target.display().to_string(), source };
                std::fs::create_dir_all(target.parent().expect("a file has a parent")).map_err(fail)?;
                std::fs::copy(&path, &target).map_err(fail)?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}
