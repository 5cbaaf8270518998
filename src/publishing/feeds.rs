//! The feeds a section publishes (the whole site, or one list): RSS, Atom and JSON Feed, each a
//! subscription document of the latest issues and — RFC 5005 — archive documents of fixed size
//! that together hold every older issue, oldest first, so that a page once full never changes.
//!
//! With `n` issues and pages of `p` (`feeds.max_items`), the archive has `(n - p) / p` full pages
//! (none while `n ≤ p`); the subscription document holds the rest, the newest `p` to `2p - 1`.
//! Walking `prev-archive` from the subscription document meets every issue exactly once.

use chrono::{DateTime, Duration, Utc};

use crate::app::App;
use crate::render::feeds::{self, FeedLinks, FeedMeta};
use crate::store::{Issue, List};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Rss,
    Atom,
    Json,
}

impl FeedKind {
    pub const ALL: [FeedKind; 3] = [FeedKind::Rss, FeedKind::Atom, FeedKind::Json];

    /// The file name of this kind's documents.
    pub fn file(self) -> &'static str {
        match self {
            Self::Rss => "feed.xml",
            Self::Atom => "atom.xml",
            Self::Json => "feed.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Rss => "application/rss+xml; charset=utf-8",
            Self::Atom => "application/atom+xml; charset=utf-8",
            Self::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// Where a section's issues go: how many the subscription document holds, how many archive
/// pages there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePlan {
    pub total: i64,
    pub per_page: i64,
    pub pages: i64,
}

impl ArchivePlan {
    pub fn new(total: i64, per_page: u32) -> Self {
        let per_page = i64::from(per_page.max(1));
        let pages = if total > per_page { (total - per_page) / per_page } else { 0 };
        Self { total, per_page, pages }
    }

    /// Issues in the subscription document (the newest).
    pub fn current_len(&self) -> i64 {
        self.total - self.pages * self.per_page
    }

    /// (offset among the newest first, count) of archive page `k` (1 = the oldest).
    pub fn page(&self, k: i64) -> Option<(i64, i64)> {
        (1..=self.pages).contains(&k).then(|| (self.total - k * self.per_page, self.per_page))
    }
}

/// The URL of a section's document: the subscription document, or archive page `k`.
pub fn document_url(app: &App, section: &str, kind: FeedKind, page: Option<i64>) -> String {
    match page {
        None => format!("{}{section}/{}", app.site.base_url, kind.file()),
        Some(k) => format!("{}{section}/archive/{k}/{}", app.site.base_url, kind.file()),
    }
}

/// The WebSub hub every feed names: another one when configured, else ours.
pub fn hub_url(app: &App) -> String {
    if app.config.feeds.external_hub.is_empty() { format!("{}/websub", app.site.base_url) } else { app.config.feeds.external_hub.clone() }
}

/// The links of a section's document (`page` None: the subscription document).
pub fn links(app: &App, section: &str, kind: FeedKind, plan: &ArchivePlan, page: Option<i64>, issues: &[Issue]) -> FeedLinks {
    let url = |k: Option<i64>| document_url(app, section, kind, k);
    let ttl_minutes = ttl_minutes(issues);
    match page {
        None => FeedLinks { self_url: url(None), hub: Some(hub_url(app)), prev_archive: (plan.pages > 0).then(|| url(Some(plan.pages))), ttl_minutes, ..Default::default() },
        Some(k) => FeedLinks {
            self_url: url(Some(k)),
            hub: None,
            prev_archive: (k > 1).then(|| url(Some(k - 1))),
            next_archive: (k < plan.pages).then(|| url(Some(k + 1))),
            current: Some(url(None)),
            archive: true,
            ttl_minutes,
        },
    }
}

/// How long a reader should wait between polls: an eighth of the typical gap between the
/// section's issues, from an hour to a day (a weekly newsletter: about a day; a daily one: three
/// hours). WebSub readers hear of a new issue at once whatever this says.
pub fn ttl_minutes(issues: &[Issue]) -> u32 {
    let mut gaps: Vec<i64> = issues.windows(2).map(|w| (w[0].published_on - w[1].published_on).num_minutes().abs()).filter(|g| *g > 0).collect();
    if gaps.is_empty() {
        return 1440;
    }
    gaps.sort_unstable();
    let typical = gaps[gaps.len() / 2];
    (typical / 8).clamp(60, Duration::days(1).num_minutes()) as u32
}

/// The path of a section's pages: "" for the whole site, `/lists/SLUG` for a list.
pub fn section_path(list: Option<&List>) -> String {
    list.map(|l| format!("/lists/{}", l.slug)).unwrap_or_default()
}

/// A section's state as a reader of its feeds sees it: how many public issues, the latest change.
pub async fn section_version(app: &App, list: Option<&List>, now: DateTime<Utc>) -> crate::store::Result<String> {
    let (count, updated) = app.store.archive_version(list.map(|l| l.id), now).await?;
    Ok(format!("{count}|{}", updated.map(|u| u.to_rfc3339()).unwrap_or_default()))
}

/// A rendered section document and the poll interval it asks for.
pub struct Rendered {
    pub body: String,
    pub ttl_minutes: u32,
}

/// A section's document of `kind` when `count` of its issues are public at `now`: the
/// subscription document (`page` None) or archive page `page`; None when that page does not exist.
pub async fn section_document(app: &App, list: Option<&List>, kind: FeedKind, count: i64, page: Option<i64>, now: DateTime<Utc>) -> crate::store::Result<Option<Rendered>> {
    let plan = ArchivePlan::new(count, app.config.feeds.max_items);
    let (offset, limit) = match page {
        None => (0, plan.current_len().max(1)),
        Some(k) => match plan.page(k) {
            Some(range) => range,
            None => return Ok(None),
        },
    };
    let issues = app.store.public_issues(list.map(|l| l.id), now, limit, offset).await?;
    let section = section_path(list);
    let meta = match list {
        Some(l) => super::list_meta(l, &section),
        None => super::site_meta(app),
    };
    let links = links(app, &section, kind, &plan, page, &issues);
    Ok(Some(Rendered { body: document(app, &meta, &links, &issues, kind), ttl_minutes: links.ttl_minutes }))
}

/// A section's subscription document of `kind` as it is at `now`.
pub async fn subscription_document(app: &App, list: Option<&List>, kind: FeedKind, now: DateTime<Utc>) -> crate::store::Result<String> {
    let (count, _) = app.store.archive_version(list.map(|l| l.id), now).await?;
    Ok(section_document(app, list, kind, count, None, now).await?.map(|r| r.body).unwrap_or_default())
}

/// A section's feed document of `issues` (the latest first).
pub fn document(app: &App, meta: &FeedMeta<'_>, links: &FeedLinks, issues: &[Issue], kind: FeedKind) -> String {
    let views: Vec<_> = issues.iter().map(super::view).collect();
    let items: Vec<_> = views
        .iter()
        .zip(issues)
        .map(|(v, i)| {
            let mut item = crate::render::archive::feed_item(v, &i.body_html, i.updated_at);
            item.categories = feeds::sections(&i.body_html);
            item
        })
        .collect();
    match kind {
        FeedKind::Rss => feeds::rss(&app.site, meta, links, &items),
        FeedKind::Atom => feeds::atom(&app.site, meta, links, &items),
        FeedKind::Json => crate::render::json_feed::json_feed(&app.site, meta, links, &items),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_holds_full_pages_and_the_current_document_the_rest() {
        assert_eq!(ArchivePlan::new(0, 50).pages, 0);
        assert_eq!(ArchivePlan::new(50, 50).pages, 0);
        assert_eq!(ArchivePlan::new(99, 50).pages, 0);
        let plan = ArchivePlan::new(300, 50);
        assert_eq!((plan.pages, plan.current_len()), (5, 50));
        assert_eq!(plan.page(1), Some((250, 50)), "the oldest page holds the 50 oldest");
        assert_eq!(plan.page(5), Some((50, 50)));
        assert_eq!(plan.page(6), None);
        let odd = ArchivePlan::new(149, 50);
        assert_eq!((odd.pages, odd.current_len()), (1, 99));
        // Every issue in exactly one document.
        let covered: i64 = (1..=odd.pages).map(|k| odd.page(k).unwrap().1).sum::<i64>() + odd.current_len();
        assert_eq!(covered, 149);
    }
}
