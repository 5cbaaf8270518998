//! Issues in, email and feeds out: `issue add`, `issue render`, `feed build`.

mod support;

use support::{Tidings, mask_tokens, python_check, repo, xmllint};

const SAMPLE: &str = "content/issues/2021-01.md";
const SAMPLE_TITLE: &str = "中国科技通讯 2021 年第 1 期";

fn with_sample() -> Tidings {
    let mut t = Tidings::new();
    t.set_env("TIDINGS_SITE__BASE_URL", "https://news.example.org");
    t.set_env("TIDINGS_SECURITY__SECRET_KEY", "test-secret-key-for-golden-files");
    t.set_env("TIDINGS_CONTENT__ISSUES_DIR", &repo().join("content/issues").display().to_string());
    t.ok(&["list", "create", "cstn", "--name", "中国科技通讯", "--language", "zh-CN"]);
    let slug = t.ok(&["issue", "add", &repo().join(SAMPLE).display().to_string()]);
    assert_eq!(slug.trim(), "2021-01");
    t
}

fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1 once and review it", path.display()));
    assert!(expected == actual, "{name} differs from its golden file (UPDATE_GOLDEN=1 to accept the new output after reviewing it)");
}

#[test]
fn the_sample_issue_renders_to_its_golden_html_and_text() {
    let t = with_sample();
    golden("2021-01.html", &mask_tokens(&t.ok(&["issue", "render", "2021-01", "--format", "html"])));
    golden("2021-01.txt", &mask_tokens(&t.ok(&["issue", "render", "2021-01", "--format", "text"])));
}

#[test]
fn the_text_part_is_wrapped_and_lists_links_by_number() {
    let t = with_sample();
    let text = t.ok(&["issue", "render", "2021-01", "--format", "text", "--to", "reader@example.com"]);
    for line in text.lines() {
        let width = unicode_width(line);
        assert!(width <= 72 || !line.contains(' ') || line.contains("://"), "line too wide ({width}): {line}");
    }
    assert!(text.starts_with(SAMPLE_TITLE), "{text}");
    assert!(text.contains("[1] https://"), "{text}");
    assert!(text.contains("reader@example.com"), "the footer names the recipient");
    assert!(text.contains("https://news.example.org/unsubscribe/"), "{text}");
}

fn unicode_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

#[test]
fn the_eml_parses_cleanly_with_every_header_a_list_mail_needs() {
    let t = with_sample();
    let eml = t.run(&["issue", "render", "2021-01", "--format", "eml", "--to", "wang@example.cn"]);
    assert!(eml.status.success());
    let path = t.write("issue.eml", &eml.stdout);
    let report = python_check("check_eml.py", &[&path]);
    let h = &report["headers"];
    assert_eq!(h["Subject"], SAMPLE_TITLE, "the subject decodes to the title");
    assert_eq!(h["To"], "wang@example.cn");
    for name in ["From", "Date", "Message-ID", "MIME-Version", "List-Id", "List-Unsubscribe", "List-Archive", "Precedence", "Feedback-ID", "Return-Path"] {
        assert!(h[name].is_string(), "missing {name}: {h}");
    }
    assert_eq!(h["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    assert_eq!(h["Precedence"], "bulk");
    let unsubscribe = h["List-Unsubscribe"].as_str().unwrap();
    assert!(unsubscribe.starts_with("<https://news.example.org/unsubscribe/") && unsubscribe.contains("<mailto:unsubscribe+"), "{unsubscribe}");
    assert!(h["Return-Path"].as_str().unwrap().starts_with("<bounces+s"), "VERP envelope sender: {h}");
    let raw = String::from_utf8_lossy(&eml.stdout);
    assert!(raw.contains("Subject: =?utf-8?"), "the CJK subject is RFC 2047 encoded");
    let parts = report["parts"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["multipart/alternative", "text/plain", "text/html"]);
    assert!(parts[1..].iter().all(|p| p["charset"] == "utf-8" && p["cte"] == "quoted-printable"));
    assert!(parts[2]["content"].as_str().unwrap().contains("聚焦"), "the HTML part carries the body");
    assert!(parts[1]["content"].as_str().unwrap().contains("wang@example.cn"));
    assert!(report["longest_line"].as_u64().unwrap() <= 998, "no line over SMTP's limit");
    assert_eq!(report["crlf_only"], true, "every line ends in CRLF");
}

#[test]
fn the_email_html_is_a_640px_table_layout_with_inlined_css() {
    let t = with_sample();
    let html = t.ok(&["issue", "render", "2021-01", "--format", "html"]);
    assert!(html.contains("lang=\"zh-CN\""), "language from the front matter");
    assert!(html.contains("width=\"640\""));
    assert!(html.contains("style=\""), "CSS is inlined");
    assert!(html.contains("@media"), "media queries are kept for phones and dark mode");
    assert!(html.contains("PingFang SC"), "CJK font stack");
    assert!(html.contains("src=\"https://news.example.org/media/images/2021-01-fig1.png\""), "relative images made absolute");
    assert!(html.contains("总第 824 期"), "masthead shows the volume");
    assert!(!html.contains('\u{E000}'), "no slot marker is left");
}

#[test]
fn feeds_and_the_static_archive_validate() {
    let t = with_sample();
    let out = t.path().join("site");
    t.ok(&["feed", "build", "--out", &out.display().to_string()]);
    for feed in ["feed.xml", "atom.xml", "lists/cstn/feed.xml", "lists/cstn/atom.xml"] {
        let path = out.join(feed);
        xmllint(&path);
        let report = python_check("check_feed.py", &[&path.display().to_string(), "1"]);
        let entry = &report["entries"][0];
        assert_eq!(entry["title"], SAMPLE_TITLE, "{feed}: {report}");
        assert_eq!(entry["link"], "https://news.example.org/issues/2021-01", "{feed}");
        assert!(entry["content"].as_str().unwrap().contains("聚焦"), "{feed}: full HTML content");
    }
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("https://news.example.org/issues/2021-01") && index.contains(SAMPLE_TITLE));
    let page = std::fs::read_to_string(out.join("issues/2021-01/index.html")).unwrap();
    assert!(page.contains("<main>") && page.contains("聚焦") && !page.contains("/unsubscribe/"), "the web version has no personal links");
    assert!(out.join("media/images/2021-01-fig1.png").is_file(), "images are copied");
    assert!(out.join("static/logo.png").is_file());
    for rendered in ["rss", "atom"] {
        let feed = t.run(&["issue", "render", "2021-01", "--format", rendered]);
        let path = t.write(&format!("one.{rendered}"), &feed.stdout);
        python_check("check_feed.py", &[&path, "1"]);
    }
}

#[test]
fn awkward_characters_are_escaped_everywhere() {
    let mut t = Tidings::new();
    t.set_env("TIDINGS_SITE__BASE_URL", "https://news.example.org");
    t.ok(&["list", "create", "x", "--name", "R&D <news>"]);
    let title = "A & B <script>alert(1)</script> \"q\" 'a' ]]> 😀 中文 שלום";
    let md = format!("+++\nlist = \"x\"\ntitle = {title:?}\ndate = 2021-01-01\nsummary = \"]]> & <b>\"\n+++\n\nText with & and < and ]]> and 😀 and עברית.\n\n<script>alert(2)</script>\n\n[x](javascript:alert(3))\n");
    let file = t.write("odd.md", md);
    t.ok(&["issue", "add", &file]);
    let eml = t.run(&["issue", "render", "odd", "--format", "eml"]);
    let path = t.write("odd.eml", &eml.stdout);
    let report = python_check("check_eml.py", &[&path]);
    assert_eq!(report["headers"]["Subject"], title);
    let html = report["parts"][2]["content"].as_str().unwrap();
    assert!(!html.contains("<script>") && !html.contains("javascript:"), "{html}");
    assert!(html.contains("A &amp; B &lt;script&gt;"), "{html}");
    let out = t.path().join("site");
    t.ok(&["feed", "build", "--out", &out.display().to_string()]);
    for feed in ["feed.xml", "atom.xml"] {
        xmllint(&out.join(feed));
        let report = python_check("check_feed.py", &[&out.join(feed).display().to_string(), "1"]);
        assert_eq!(report["entries"][0]["title"], title, "{feed}");
    }
}

#[test]
fn bad_issue_files_are_refused_with_file_line_and_field_and_nothing_is_stored() {
    let t = Tidings::new().with_list("cstn");
    let good = "+++\nlist = \"cstn\"\ntitle = \"T\"\ndate = 2021-01-31\n+++\n\nBody.\n";
    let cases: Vec<(&str, String, &str)> = vec![
        ("nofm.md", "Just text\n".into(), "nofm.md: line 1"),
        ("toml.md", good.replace("title = \"T\"", "title = \"T"), "toml.md: line 3"),
        ("nolist.md", good.replace("list = \"cstn\"\n", ""), "missing required field `list`"),
        ("unknown.md", good.replace("\"cstn\"", "\"nope\""), "unknown.md: line 2: field `list`: no list with slug \"nope\""),
        ("date.md", good.replace("2021-01-31", "2021-13-01"), "date.md: line 4"),
        ("empty.md", good.replace("\nBody.\n", "\n\n"), "empty.md: line 6: the issue has no body"),
        ("image.md", good.replace("Body.", "Text\n\n![fig](images/missing.png)"), "image.md: line 9: image \"images/missing.png\" does not exist"),
        // Nesting that used to overflow the stack and abort the process.
        ("quotes.md", good.replace("Body.", &format!("Text\n\n{}x", "> ".repeat(5000))), "quotes.md: line 9: quotes and lists nested 5000 deep"),
        ("divs.md", good.replace("Body.", &"<div>".repeat(5000)), "divs.md: line 7: HTML elements nested 5000 deep"),
        ("emphasis.md", good.replace("Body.", &("*a ".repeat(5000) + "x" + &" a*".repeat(5000))), "emphasis.md: line 7: Markdown elements (emphasis, links, quotes, lists) nested 113 deep; at most 112 levels"),
        ("huge.md", good.replace("Body.", &"word ".repeat(300_000)), "huge.md: the body is 1465 KiB"),
    ];
    for (name, text, expected) in cases {
        let file = t.write(name, text);
        let err = t.fails(&["issue", "add", &file], 2);
        assert!(err.contains(expected), "{name}: expected {expected:?} in {err}");
        let slug = name.trim_end_matches(".md");
        t.fails(&["issue", "render", slug, "--format", "html"], 2);
    }
    t.fails(&["issue", "add", "does-not-exist.md"], 2);
}

#[test]
fn re_adding_a_draft_updates_it() {
    let t = Tidings::new().with_list("cstn");
    let file = t.write("n.md", "+++\nlist = \"cstn\"\ntitle = \"First\"\ndate = 2021-01-31\n+++\n\nBody.\n");
    assert_eq!(t.json(&["issue", "add", &file])["saved"], "created");
    t.write("n.md", "+++\nlist = \"cstn\"\ntitle = \"Second\"\ndate = 2021-01-31\n+++\n\nBody.\n");
    assert_eq!(t.json(&["issue", "add", &file])["saved"], "updated");
    assert!(t.ok(&["issue", "render", "n", "--format", "text"]).starts_with("Second"));
}

#[test]
fn feed_build_publishes_images_only_never_hidden_or_other_files() {
    let mut t = Tidings::new();
    let content = t.path().join("content");
    for (name, bytes) in [("images/a.png", &b"\x89PNG\r\n"[..]), (".env", b"SECRET=1"), ("images/.b.png", b"x"), (".git/c.png", b"x"), ("notes.txt", b"private"), (".i.md.swp", b"x"), ("draft.md~", b"x")] {
        let path = content.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::fs::write(content.join("i.md"), "+++\nlist = \"cstn\"\ntitle = \"T\"\ndate = 2021-01-31\n+++\n\n![a](images/a.png)\n").unwrap();
    t.set_env("TIDINGS_CONTENT__ISSUES_DIR", &content.display().to_string());
    t.ok(&["list", "create", "cstn", "--name", "N"]);
    t.ok(&["issue", "add", &content.join("i.md").display().to_string()]);
    let out = t.path().join("site");
    t.ok(&["feed", "build", "--out", &out.display().to_string()]);
    let mut files = Vec::new();
    let mut dirs = vec![out.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() { dirs.push(e.path()) } else { files.push(e.path().strip_prefix(&out).unwrap().display().to_string()) }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("images/a.png")), "{files:?}");
    for bad in [".env", ".b.png", "c.png", "notes.txt", ".swp", "~"] {
        assert!(!files.iter().any(|f| f.ends_with(bad)), "{bad} published: {files:?}");
    }
}
