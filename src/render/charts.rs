//! Dashboard charts drawn on the server as inline SVG: no script, no external asset.
//!
//! Each chart is a `<figure>` holding the SVG (`role="img"`, named by its `<title>`), a
//! `<figcaption>`, and the same numbers as a `<table>` inside `<details>` — for screen readers,
//! for copying, and for anyone who would rather read numbers than lines. Every word comes from
//! the caller, already translated; maud escapes it. Not for email: mail clients drop SVG.

use std::fmt::Write as _;

use maud::{Markup, Render, html};
use unicode_width::UnicodeWidthStr;

/// The drawing's width in SVG units; the browser scales it to the figure's width.
const WIDTH: f64 = 640.0;
const FONT: &str = r#"system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif"#;
/// Okabe–Ito colours: told apart with the common colour-vision deficiencies, and dark enough
/// to read on white.
const PALETTE: [&str; 6] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];
const INK: &str = "#333";
const GRID: &str = "#ddd";
const ALERT: &str = "#B00020";
/// Width of one column of 12-pixel text (a Latin letter takes one, a CJK character two), on the
/// generous side: an overestimate wastes a little room, an underestimate clips a label.
const COLUMN: f64 = 7.0;
const MAX_X_LABELS: f64 = 8.0;

/// One line: `points` are (x label, value); every series of a chart shares the x labels, in order.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(String, f64)>,
}

/// How values print on axes, bars and in the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ValueFormat {
    /// Whole numbers with thousands separators: `1,234`.
    #[default]
    Count,
    /// A fraction shown as a percentage: 0.0012 prints as `0.12%`.
    Percent,
}

impl ValueFormat {
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Count => group_thousands(value.round() as i64),
            Self::Percent => format!("{:.2}%", value * 100.0),
        }
    }

    /// The lowest axis top, so that ticks never fall between whole counts or below 0.01%.
    fn min_top(self) -> f64 {
        match self {
            Self::Count => 5.0,
            Self::Percent => 0.0005,
        }
    }
}

/// The words around a chart, already in the reader's language.
#[derive(Debug, Clone, Default)]
pub struct ChartText {
    /// Unique on the page: the ids that tie the SVG to its title and caption derive from it.
    pub id: String,
    pub title: String,
    pub caption: String,
    /// Shown instead of the chart when there is nothing to draw.
    pub empty: String,
    /// The summary of the `<details>` that holds the table ("Show the numbers").
    pub table: String,
    /// Header of the label column: the day, the minute, the domain.
    pub x_header: String,
    /// What the values are: the y axis title, and the value column's header of a bar chart.
    pub y_header: String,
    pub format: ValueFormat,
}

/// Lines over shared x labels, on a y axis from 0 to a round number.
pub fn line_chart(c: &ChartText, series: &[Series]) -> Markup {
    let Some(xs) = series.iter().map(|s| &s.points).max_by_key(|p| p.len()).filter(|p| !p.is_empty()) else {
        return empty(c);
    };
    let scale = Scale::new(series.iter().flat_map(|s| &s.points).map(|p| p.1).fold(0.0, f64::max), c.format);
    let label_w = xs.iter().map(|(x, _)| text_width(x)).fold(0.0, f64::max) + 8.0;
    let tick_w = text_width(&c.format.format(scale.top)) + 10.0;
    // The first and last x labels are centred on the plot's edges: half of each hangs outside.
    let overhang = (label_w / 2.0).clamp(16.0, 60.0);
    let left = tick_w.max(overhang);
    let plot = Plot { left, top: 24.0, width: WIDTH - left - overhang, height: 200.0 };
    let legend = legend_layout(series, plot.left);
    let legend_top = plot.bottom() + 42.0;
    let height = legend_top + 18.0 * legend.last().map_or(0.0, |l| l.row + 1.0);
    let step = x_label_step(xs.len(), plot.width, label_w);
    let body = html! {
        text x="0" y="12" { (c.y_header) }
        (y_grid(&plot, scale, c.format))
        @for (i, (x, _)) in xs.iter().enumerate().filter(|(i, _)| i % step == 0) {
            text x=(Px(plot.x_at(i, xs.len()))) y=(Px(plot.bottom() + 18.0)) text-anchor="middle" { (x) }
        }
        @for (i, s) in series.iter().enumerate() {
            (line(&plot, scale, s, xs.len(), PALETTE[i % PALETTE.len()]))
        }
        @for (s, item) in series.iter().zip(&legend) {
            rect x=(Px(item.x)) y=(Px(legend_top + item.row * 18.0 - 10.0)) width="12" height="12" fill=(item.colour) {}
            text x=(Px(item.x + 16.0)) y=(Px(legend_top + item.row * 18.0)) { (s.label) }
        }
    };
    let table = html! {
        thead { tr { th scope="col" { (c.x_header) } @for s in series { th scope="col" { (s.label) } } } }
        tbody {
            @for (i, (x, _)) in xs.iter().enumerate() {
                tr {
                    th scope="row" { (x) }
                    @for s in series { td { @if let Some((_, v)) = s.points.get(i) { (c.format.format(*v)) } } }
                }
            }
        }
    };
    figure(c, height, body, table)
}

/// Horizontal bars in the order given, each labelled on the left and valued at its end, with an
/// optional dashed limit line (value, label).
pub fn bar_chart(c: &ChartText, bars: &[(String, f64)], threshold: Option<(f64, String)>) -> Markup {
    if bars.is_empty() {
        return empty(c);
    }
    let max = bars.iter().map(|b| b.1).chain(threshold.as_ref().map(|t| t.0)).fold(0.0, f64::max);
    let scale = Scale::new(max, c.format);
    let label_max = bars.iter().map(|(l, _)| text_width(l)).fold(0.0, f64::max).min(200.0);
    let value_w = bars.iter().map(|(_, v)| text_width(&c.format.format(*v))).fold(0.0, f64::max) + 8.0;
    let left = label_max + 16.0;
    let top = if threshold.is_some() { 28.0 } else { 8.0 };
    let plot = Plot { left, top, width: WIDTH - left - value_w.max(16.0), height: 24.0 * bars.len() as f64 };
    let body = html! {
        (x_grid(&plot, scale, c.format))
        @for (i, (label, value)) in bars.iter().enumerate() {
            @let y = plot.top + 24.0 * i as f64;
            @let end = plot.left + scale.fraction(*value) * plot.width;
            text x=(Px(plot.left - 8.0)) y=(Px(y + 12.0)) dy="0.32em" text-anchor="end" { (truncate(label, label_max)) }
            rect x=(Px(plot.left)) y=(Px(y + 4.0)) width=(Px(end - plot.left)) height="16" fill=(PALETTE[0]) {
                title { (label) ": " (c.format.format(*value)) }
            }
            text x=(Px(end + 4.0)) y=(Px(y + 12.0)) dy="0.32em" { (c.format.format(*value)) }
        }
        @if let Some((value, label)) = &threshold {
            @let x = plot.left + scale.fraction(*value) * plot.width;
            line x1=(Px(x)) x2=(Px(x)) y1=(Px(plot.top - 6.0)) y2=(Px(plot.bottom())) stroke=(ALERT) stroke-width="1.5" stroke-dasharray="5 4" {}
            text x=(Px(x)) y=(Px(plot.top - 12.0)) fill=(ALERT) text-anchor=(if x > plot.left + plot.width / 2.0 { "end" } else { "start" }) { (label) }
        }
    };
    let table = html! {
        thead { tr { th scope="col" { (c.x_header) } th scope="col" { (c.y_header) } } }
        tbody { @for (label, value) in bars { tr { th scope="row" { (label) } td { (c.format.format(*value)) } } } }
    };
    figure(c, plot.bottom() + 24.0, body, table)
}

fn empty(c: &ChartText) -> Markup {
    html! { figure.chart.chart-empty { p { (c.empty) } figcaption { (c.caption) } } }
}

fn figure(c: &ChartText, height: f64, body: Markup, table: Markup) -> Markup {
    let (title_id, caption_id) = (format!("{}-title", c.id), format!("{}-caption", c.id));
    html! {
        figure.chart {
            svg role="img" aria-labelledby=(title_id) aria-describedby=(caption_id) viewBox={ "0 0 " (WIDTH) " " (height.ceil()) }
                width="100%" preserveAspectRatio="xMidYMid meet" font-family=(FONT) font-size="12" fill=(INK) {
                title id=(title_id) { (c.title) }
                (body)
            }
            figcaption id=(caption_id) { (c.caption) }
            details.chart-table { summary { (c.table) } table { (table) } }
        }
    }
}

/// The drawing area inside the axes' labels.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Plot {
    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn x_at(&self, i: usize, n: usize) -> f64 {
        if n < 2 { self.left + self.width / 2.0 } else { self.left + self.width * i as f64 / (n - 1) as f64 }
    }

    fn y_of(&self, scale: Scale, value: f64) -> f64 {
        self.bottom() - scale.fraction(value) * self.height
    }
}

/// An axis from 0 to `top`, a 1, 2 or 5 times a power of ten, cut into 4 or 5 round steps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scale {
    top: f64,
    steps: u32,
}

impl Scale {
    fn new(max: f64, format: ValueFormat) -> Self {
        let max = if max.is_finite() { max.max(format.min_top()) } else { format.min_top() };
        let magnitude = 10f64.powf(max.log10().floor());
        // The tolerance keeps floating-point noise (0.30000000000000004) from skipping a step.
        [(1.0, 5), (2.0, 4), (5.0, 5)]
            .into_iter()
            .map(|(m, steps)| Self { top: m * magnitude, steps })
            .find(|s| s.top >= max * (1.0 - 1e-9))
            .unwrap_or(Self { top: 10.0 * magnitude, steps: 5 })
    }

    fn ticks(self) -> impl Iterator<Item = f64> {
        (0..=self.steps).map(move |k| self.top * f64::from(k) / f64::from(self.steps))
    }

    /// Where `value` falls on the axis, 0 to 1; negatives and NaN draw at 0.
    fn fraction(self, value: f64) -> f64 {
        if value.is_finite() { (value / self.top).clamp(0.0, 1.0) } else { 0.0 }
    }
}

fn y_grid(plot: &Plot, scale: Scale, format: ValueFormat) -> Markup {
    html! {
        @for v in scale.ticks() {
            @let y = plot.y_of(scale, v);
            line x1=(Px(plot.left)) x2=(Px(plot.left + plot.width)) y1=(Px(y)) y2=(Px(y)) stroke=(GRID) {}
            text x=(Px(plot.left - 6.0)) y=(Px(y)) dy="0.32em" text-anchor="end" { (format.format(v)) }
        }
    }
}

fn x_grid(plot: &Plot, scale: Scale, format: ValueFormat) -> Markup {
    html! {
        @for v in scale.ticks() {
            @let x = plot.left + scale.fraction(v) * plot.width;
            line x1=(Px(x)) x2=(Px(x)) y1=(Px(plot.top)) y2=(Px(plot.bottom())) stroke=(GRID) {}
            text x=(Px(x)) y=(Px(plot.bottom() + 16.0)) text-anchor="middle" { (format.format(v)) }
        }
    }
}

/// `n` is the number of x labels: a shorter series ends early rather than stretching.
fn line(plot: &Plot, scale: Scale, s: &Series, n: usize, colour: &str) -> Markup {
    let mut points = String::with_capacity(s.points.len() * 12);
    for (i, (_, v)) in s.points.iter().enumerate() {
        let _ = write!(points, "{:.1},{:.1} ", plot.x_at(i, n), plot.y_of(scale, *v));
    }
    html! {
        polyline points=(points.trim_end()) fill="none" stroke=(colour) stroke-width="2" stroke-linejoin="round" {}
        // A lone point draws no line; a dot shows it.
        @if s.points.len() == 1 { circle cx=(Px(plot.x_at(0, n))) cy=(Px(plot.y_of(scale, s.points[0].1))) r="3" fill=(colour) {} }
    }
}

/// Show every `step`th x label: at most eight, and no more than fit side by side.
fn x_label_step(n: usize, plot_width: f64, label_width: f64) -> usize {
    let fit = (plot_width / label_width).floor().clamp(2.0, MAX_X_LABELS) as usize;
    n.div_ceil(fit).max(1)
}

struct LegendItem {
    x: f64,
    row: f64,
    colour: &'static str,
}

/// Legend entries left to right, wrapping onto a new row when the line is full.
fn legend_layout(series: &[Series], left: f64) -> Vec<LegendItem> {
    let (mut x, mut row) = (left, 0.0);
    let mut items = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        let w = 16.0 + text_width(&s.label) + 16.0;
        if x > left && x + w > WIDTH {
            (x, row) = (left, row + 1.0);
        }
        items.push(LegendItem { x, row, colour: PALETTE[i % PALETTE.len()] });
        x += w;
    }
    items
}

/// An estimate, as the server cannot measure glyphs: enough to keep labels apart.
fn text_width(s: &str) -> f64 {
    s.width() as f64 * COLUMN
}

fn truncate(s: &str, max_width: f64) -> String {
    if text_width(s) <= max_width {
        return s.to_string();
    }
    let mut out = String::new();
    for ch in s.chars() {
        if text_width(&out) + 2.0 * COLUMN > max_width {
            break;
        }
        out.push(ch);
    }
    out + "…"
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A coordinate, written with one decimal: enough for a 640-unit drawing, and short.
#[derive(Clone, Copy)]
struct Px(f64);

impl Render for Px {
    fn render_to(&self, buffer: &mut String) {
        let _ = write!(buffer, "{:.1}", self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(format: ValueFormat) -> ChartText {
        ChartText {
            id: "c".into(),
            title: "Title".into(),
            caption: "Caption".into(),
            empty: "No data yet".into(),
            table: "Numbers".into(),
            x_header: "Day".into(),
            y_header: "People".into(),
            format,
        }
    }

    fn series(label: &str, values: &[f64]) -> Series {
        Series { label: label.into(), points: values.iter().enumerate().map(|(i, v)| (format!("d{i}"), *v)).collect() }
    }

    #[test]
    fn axis_tops_are_one_two_or_five_times_a_power_of_ten() {
        let top = |max, f| Scale::new(max, f).top;
        assert_eq!(top(0.0, ValueFormat::Count), 5.0);
        assert_eq!(top(7.0, ValueFormat::Count), 10.0);
        assert_eq!(top(10.0, ValueFormat::Count), 10.0);
        assert_eq!(top(11.0, ValueFormat::Count), 20.0);
        assert_eq!(top(1234.0, ValueFormat::Count), 2000.0);
        assert_eq!(top(2001.0, ValueFormat::Count), 5000.0);
        assert!((top(0.003, ValueFormat::Percent) - 0.005).abs() < 1e-12);
        assert!((top(0.3, ValueFormat::Percent) - 0.5).abs() < 1e-12);
        assert_eq!(top(f64::NAN, ValueFormat::Count), 5.0);
        assert_eq!(Scale::new(15.0, ValueFormat::Count).steps, 4);
        assert_eq!(Scale::new(15.0, ValueFormat::Count).ticks().collect::<Vec<_>>(), [0.0, 5.0, 10.0, 15.0, 20.0]);
    }

    #[test]
    fn values_print_as_counts_or_percentages() {
        assert_eq!(ValueFormat::Count.format(1234.4), "1,234");
        assert_eq!(ValueFormat::Count.format(-1234567.0), "-1,234,567");
        assert_eq!(ValueFormat::Count.format(999.0), "999");
        assert_eq!(ValueFormat::Percent.format(0.0012), "0.12%");
    }

    #[test]
    fn labels_are_escaped() {
        let html = bar_chart(&text(ValueFormat::Count), &[("<script>alert(1)</script>".into(), 3.0)], None).into_string();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        let html = line_chart(&text(ValueFormat::Count), &[series("<script>", &[1.0])]).into_string();
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn bar_table_has_a_row_per_bar_with_formatted_numbers() {
        let bars = [("gmail.com".to_string(), 1234.0), ("qq.com".to_string(), 5.0)];
        let html = bar_chart(&text(ValueFormat::Count), &bars, None).into_string();
        let table = &html[html.find("<tbody>").unwrap()..];
        assert_eq!(table.matches("<tr>").count(), 2);
        assert!(table.contains(r#"<th scope="row">gmail.com</th><td>1,234</td>"#));
        assert!(table.contains(r#"<th scope="row">qq.com</th><td>5</td>"#));
    }

    #[test]
    fn line_table_has_a_row_per_x_and_a_column_per_series() {
        let html = line_chart(&text(ValueFormat::Percent), &[series("A", &[0.001, 0.002, 0.0]), series("B", &[0.5, 0.25])]).into_string();
        let table = &html[html.find("<tbody>").unwrap()..];
        assert_eq!(table.matches("<tr>").count(), 3);
        assert!(table.contains(r#"<th scope="row">d1</th><td>0.20%</td><td>25.00%</td>"#));
        assert!(table.contains(r#"<th scope="row">d2</th><td>0.00%</td><td></td>"#));
        assert!(html.contains(r#"role="img" aria-labelledby="c-title""#));
        assert!(html.contains(r#"<title id="c-title">Title</title>"#));
        assert!(html.contains(r#"<figcaption id="c-caption">Caption</figcaption>"#));
    }

    #[test]
    fn threshold_line_is_drawn_only_when_given() {
        let bars = [("a.example".to_string(), 0.001)];
        let without = bar_chart(&text(ValueFormat::Percent), &bars, None).into_string();
        let with = bar_chart(&text(ValueFormat::Percent), &bars, Some((0.003, "0.3% limit".into()))).into_string();
        assert!(!without.contains("stroke-dasharray"));
        assert!(with.contains("stroke-dasharray"));
        assert!(with.contains("0.3% limit"));
    }

    #[test]
    fn nothing_to_draw_shows_the_empty_text() {
        let c = text(ValueFormat::Count);
        for html in [line_chart(&c, &[]), line_chart(&c, &[series("A", &[])]), bar_chart(&c, &[], Some((1.0, "x".into())))] {
            let html = html.into_string();
            assert!(html.contains("No data yet"));
            assert!(!html.contains("<svg"));
        }
    }

    #[test]
    fn at_most_eight_x_labels_show() {
        let values: Vec<f64> = (0..365).map(f64::from).collect();
        let html = line_chart(&text(ValueFormat::Count), &[series("A", &values)]).into_string();
        let svg = &html[..html.find("</svg>").unwrap()];
        let shown = (0..365).filter(|i| svg.contains(&format!(">d{i}<"))).count();
        assert!((2..=8).contains(&shown), "{shown} labels");
    }

    #[test]
    fn long_labels_are_shortened_in_the_drawing_only() {
        assert_eq!(truncate("short", 100.0), "short");
        let long = "很长的域名".repeat(10);
        let cut = truncate(&long, 60.0);
        assert!(cut.ends_with('…') && text_width(&cut) <= 60.0 + COLUMN);
    }
}
