//! The report as one self-contained HTML page for an auditor: the controls and their status
//! first, then each metric with its figure, its trend as an inline SVG chart, and its
//! evidence. No scripts, fonts, images or style sheets are fetched: the file is the report.

use std::fmt::Write as _;

use super::Report;
use super::metric::{Figure, MetricId, Point, Status, number};

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1c2430;background:#f4f6f9}
main{max-width:1080px;margin:0 auto;padding:32px 28px 56px}
header{border-bottom:3px solid #1c2430;padding-bottom:16px;margin-bottom:24px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 12px}
h3{font-size:15px;margin:0}
.meta{color:#556070;font-size:13px}
.meta code{font-size:12px}
.summary{display:flex;gap:12px;margin:16px 0}
.tile{flex:1;background:#fff;border:1px solid #d9dee6;border-radius:6px;padding:12px 16px}
.tile b{display:block;font-size:24px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d9dee6}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #e7eaf0;vertical-align:top}
th{background:#eef1f5;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#445}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600}
.ok{background:#dff3e4;color:#1d6b35}
.breach{background:#fbe0e0;color:#a32020}
.metric{background:#fff;border:1px solid #d9dee6;border-radius:6px;padding:16px 18px;margin:0 0 14px;page-break-inside:avoid}
.metric.breach-card{border-left:5px solid #c62828}
.metric.ok-card{border-left:5px solid #2e7d32}
.row{display:flex;gap:24px;align-items:flex-start;margin-top:10px}
.figure{min-width:180px}
.figure b{font-size:30px;display:block}
.detail{font-size:12px;color:#556070}
.evidence{margin:12px 0 0;padding:8px 12px;list-style:none;column-count:3;column-gap:18px;background:#fafbfd;border:1px solid #e7eaf0;border-radius:4px;font:11px/1.6 ui-monospace,Menlo,Consolas,monospace}
.evidence li{break-inside:avoid;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
svg{background:#fafbfd;border:1px solid #e7eaf0;border-radius:4px}
footer{margin-top:32px;color:#778;font-size:12px}
@media print{body{background:#fff}.metric{break-inside:avoid}}
";

/// `report` as a self-contained HTML page.
pub fn to_html(report: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let breaches = report
        .metrics
        .values()
        .filter(|f| f.status == Status::Breach)
        .count();
    let failed_controls = report
        .controls
        .iter()
        .filter(|c| c.status == Status::Breach)
        .count();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Access evidence report {since} – {until}</title><style>{STYLE}</style></head><body><main>\
         <header><h1>Access evidence report</h1>\
         <div class=\"meta\">Window {since} – {until} · generated {gen} · policy bundle <code>{hash}</code></div>\
         </header>\
         <div class=\"summary\">\
         <div class=\"tile\"><b>{ok_controls} / {n_controls}</b>controls met</div>\
         <div class=\"tile\"><b>{ok_metrics} / {n_metrics}</b>metrics met</div>\
         <div class=\"tile\"><b>{live}</b>live grants at the window's end</div></div>",
        since = esc(&report.window.since.to_string()),
        until = esc(&report.window.until.to_string()),
        gen = esc(&report.generated_at.to_string()),
        hash = esc(&report.bundle_hash),
        ok_controls = report.controls.len() - failed_controls,
        n_controls = report.controls.len(),
        ok_metrics = report.metrics.len() - breaches,
        n_metrics = report.metrics.len(),
        live = report
            .metrics
            .get(&MetricId::ExpiryCoverage)
            .and_then(|f| f.denominator)
            .unwrap_or(0),
    );
    controls(&mut o, report);
    o.push_str("<h2>Metrics</h2>");
    for (id, f) in &report.metrics {
        metric(&mut o, *id, f);
    }
    o.push_str(
        "<footer>Every figure is computed from Warden's store — grants, confirmed removals on \
         the targets, approvals, stored decisions and the hash-chained audit trail — not from \
         tickets. Evidence lists at most 100 items per metric; the JSON form of this report \
         (<code>warden report --format json</code>) carries the same figures.</footer>\
         </main></body></html>\n",
    );
    o
}

fn pill(s: Status) -> String {
    format!("<span class=\"pill {0}\">{0}</span>", s.as_str())
}

fn controls(o: &mut String, report: &Report) {
    o.push_str(
        "<h2>Controls</h2><table><thead><tr><th>Framework</th><th>Control</th>\
         <th>What it asks</th><th>Metrics</th><th>Status</th></tr></thead><tbody>",
    );
    for c in &report.controls {
        let metrics: Vec<String> = c
            .metrics
            .iter()
            .map(|m| {
                let breach = report
                    .metrics
                    .get(m)
                    .is_some_and(|f| f.status == Status::Breach);
                let name = esc(m.as_str());
                if breach {
                    format!("<a href=\"#{name}\"><b>{name}</b></a>")
                } else {
                    format!("<a href=\"#{name}\">{name}</a>")
                }
            })
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(c.framework),
            esc(c.control),
            esc(c.title),
            metrics.join(", "),
            pill(c.status)
        );
    }
    o.push_str("</tbody></table>");
}

fn metric(o: &mut String, id: MetricId, f: &Figure) {
    let value = match (f.value, f.numerator, f.denominator) {
        (None, _, _) => "—".to_owned(),
        (Some(v), Some(_), Some(_)) => format!("{}%", number((v * 1_000.0).round() / 10.0)),
        (Some(v), _, _) => number(v),
    };
    let ratio = match (f.numerator, f.denominator) {
        (Some(n), Some(d)) => format!("{n} of {d}"),
        _ => String::new(),
    };
    let card = match f.status {
        Status::Ok => "ok-card",
        Status::Breach => "breach-card",
    };
    let _ = write!(
        o,
        "<section class=\"metric {card}\" id=\"{name}\"><h3>{title} {pill}</h3>\
         <div class=\"detail\"><code>{name}</code> · goal {goal}</div>\
         <div class=\"row\"><div class=\"figure\"><b>{value}</b><span class=\"detail\">{ratio}</span>",
        name = esc(id.as_str()),
        title = esc(id.title()),
        pill = pill(f.status),
        goal = esc(&f.goal.to_string()),
    );
    for (k, v) in &f.detail {
        let shown = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(o, "<div class=\"detail\">{}: {}</div>", esc(k), esc(&shown));
    }
    o.push_str("</div>");
    chart(o, &f.trend);
    o.push_str("</div>");
    if !f.evidence.is_empty() {
        o.push_str("<ul class=\"evidence\">");
        for e in &f.evidence {
            let _ = write!(o, "<li>{}</li>", esc(&e.to_string()));
        }
        let more = f.evidence_total.saturating_sub(f.evidence.len() as u64);
        if more > 0 {
            let _ = write!(o, "<li>… and {more} more</li>");
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>");
}

/// A line chart of `points` (a gap where a point has no value), scaled from zero (or its
/// lowest value) to its highest, with the first and last instants under it. A figure read
/// once (at the window's end) gets no chart.
fn chart(o: &mut String, points: &[Point]) {
    const W: f64 = 560.0;
    const H: f64 = 110.0;
    const PAD: f64 = 10.0;
    const AXIS: f64 = 16.0;
    let values: Vec<f64> = points.iter().filter_map(|p| p.value).collect();
    let note = |o: &mut String, text: &str| {
        let _ = write!(
            o,
            "<svg width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{text}\">\
             <text x=\"{x}\" y=\"{y}\" fill=\"#889\" font-size=\"12\" text-anchor=\"middle\">{text}</text></svg>",
            x = W / 2.0,
            y = H / 2.0
        );
    };
    if points.len() < 2 {
        note(o, "read once, at the end of the window");
        return;
    }
    if values.is_empty() {
        note(o, "nothing to chart in this window");
        return;
    }
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = points.len() - 1;
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / n as f64;
    // The top 20 px hold the `max` label.
    let y = |v: f64| H - AXIS - PAD - (H - AXIS - PAD - 20.0) * (v - lo) / span;
    let mut path = String::new();
    let mut pen_down = false;
    let mut dots = String::new();
    for (i, p) in points.iter().enumerate() {
        match p.value {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    x(i),
                    y(v)
                );
                let _ = write!(
                    dots,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#1f4e8c\"><title>{}: {}</title></circle>",
                    x(i),
                    y(v),
                    esc(&p.at.to_string()),
                    number(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let day = |p: Option<&Point>| {
        p.map(|p| p.at.to_string().chars().take(10).collect::<String>())
            .unwrap_or_default()
    };
    let _ = write!(
        o,
        "<svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"trend over the window\">\
         <line x1=\"{PAD}\" y1=\"{base:.1}\" x2=\"{xe}\" y2=\"{base:.1}\" stroke=\"#ccd\"/>\
         <text x=\"{PAD}\" y=\"14\" fill=\"#889\" font-size=\"10\">max {hi}</text>\
         <text x=\"{PAD}\" y=\"{ty}\" fill=\"#889\" font-size=\"10\">{first}</text>\
         <text x=\"{xe}\" y=\"{ty}\" fill=\"#889\" font-size=\"10\" text-anchor=\"end\">{last}</text>\
         <path d=\"{path}\" fill=\"none\" stroke=\"#1f4e8c\" stroke-width=\"1.8\"/>{dots}</svg>",
        base = y(lo),
        xe = W - PAD,
        ty = H - 4.0,
        hi = number(hi),
        first = esc(&day(points.first())),
        last = esc(&day(points.last())),
    );
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
