//! `feed build --out DIR`: the archive as static files, for any web server or static host.
//!
//! ```text
//! index.html, page/N/index.html          all public lists, newest first
//! lists/SLUG/index.html, …/page/N/…      one list
//! issues/SLUG/index.html                 the web version of each issue
//! feed.xml, atom.xml, feed.json            the subscription feeds, and lists/SLUG/… of each list
//! archive/K/{feed.xml,atom.xml,feed.json}  their RFC 5005 archive documents (and lists/SLUG/…)
//! feeds.opml                             every public list's feed
//! media/…                                images from the content folder
//! static/logo.png                        the feeds' channel image
//! ```

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::app::App;
use crate::render::archive::{self, IndexPage, PAGE_SIZE};
use super::feeds::{ArchivePlan, FeedKind, document, links};
use crate::render::feeds::FeedMeta;
use crate::render::opml::{OpmlFeed, opml};
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
    let lists = app.store.public_lists().await?;
    for list in &lists {
        let issues: Vec<Issue> = all.iter().filter(|i| i.list_id == list.id).cloned().collect();
        let path = format!("/lists/{}", list.slug);
        let meta = list_meta(list, &path);
        write_section(app, &mut out, &issues, &meta)?;
    }
    out.write("feeds.opml", feeds_opml(app, &lists).as_bytes())?;
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
    let plan = ArchivePlan::new(issues.len() as i64, app.config.feeds.max_items);
    let current = &issues[..plan.current_len() as usize];
    for kind in FeedKind::ALL {
        let l = links(app, meta.path, kind, &plan, None, current);
        out.write(&format!("{prefix}{}", kind.file()), document(app, meta, &l, current, kind).as_bytes())?;
        out.report.feeds += 1;
        for k in 1..=plan.pages {
            let (offset, count) = plan.page(k).expect("a page of the plan");
            let page = &issues[offset as usize..(offset + count) as usize];
            let l = links(app, meta.path, kind, &plan, Some(k), page);
            out.write(&format!("{prefix}archive/{k}/{}", kind.file()), document(app, meta, &l, page, kind).as_bytes())?;
            out.report.feeds += 1;
        }
    }
    Ok(())
}

/// Every public list's RSS feed, and the whole site's, as OPML.
pub fn feeds_opml(app: &App, lists: &[List]) -> String {
    let mut all = vec![OpmlFeed { title: &app.site.title, xml_url: format!("{}/feed.xml", app.site.base_url), html_url: format!("{}/", app.site.base_url) }];
    all.extend(lists.iter().filter(|l| l.public).map(|l| OpmlFeed { title: &l.name, xml_url: format!("{}/lists/{}/feed.xml", app.site.base_url, l.slug), html_url: format!("{}/lists/{}/", app.site.base_url, l.slug) }));
    opml(&app.site.title, &all)
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
