//! Publishing: issue files into the store (rendered once), previews of one issue in each format,
//! and the static archive (`feed build`).

pub mod add;
pub mod feeds;
pub mod plaintext;
pub mod watch;
mod preview;
mod static_site;

pub use add::{AddedIssue, PublishError, add_issue_as, add_issue_file, add_issue_text, add_text_issue, convert_text, is_text_layout, source_text};
pub use preview::{Format, PreviewError, factory, preview, preview_draft};
pub use feeds::{ArchivePlan, FeedKind};
pub use static_site::{BuildError, BuildReport, LOGO, build_static_site, feeds_opml, index_html, list_meta, page_count, site_meta};

use crate::render::issue::IssueView;
use crate::store::Issue;

/// The content type of a file of the content folder that may be published (`/media`, `feed
/// build`): images only, and nothing under a hidden name (`.env`, editor swap files).
pub fn media_type(relative: &str) -> Option<&'static str> {
    let safe = relative.split('/').all(|p| !p.is_empty() && !p.starts_with('.') && !p.contains('\\'));
    let ext = relative.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let content_type = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        _ => return None,
    };
    safe.then_some(content_type)
}

/// The rendering view of a stored issue.
pub fn view(issue: &Issue) -> IssueView<'_> {
    IssueView {
        slug: &issue.slug,
        title: &issue.title,
        subtitle: &issue.subtitle,
        volume: issue.volume,
        number: issue.number,
        date: issue.published_on,
        language: &issue.language,
        summary: &issue.summary,
        list_name: &issue.list_name,
        private_list: !issue.list_public,
    }
}
