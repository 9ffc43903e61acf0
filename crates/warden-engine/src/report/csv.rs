//! The report as CSV: one row per metric, for a spreadsheet.

use std::fmt::Write as _;

use super::Report;
use super::metric::number;

/// The columns, in order.
const HEADER: &str = "metric,value,numerator,denominator,goal,status,evidence_total,evidence";

/// `report` as CSV text (RFC 4180: fields with commas, quotes or line breaks are quoted).
pub fn to_csv(report: &Report) -> String {
    let mut out = format!("{HEADER}\r\n");
    for (id, f) in &report.metrics {
        let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        let evidence: Vec<String> = f.evidence.iter().map(ToString::to_string).collect();
        let row = [
            id.as_str().to_owned(),
            f.value.map(number).unwrap_or_default(),
            opt(f.numerator),
            opt(f.denominator),
            f.goal.to_string(),
            f.status.as_str().to_owned(),
            f.evidence_total.to_string(),
            evidence.join("; "),
        ];
        let cells: Vec<String> = row.iter().map(|c| field(c)).collect();
        let _ = write!(out, "{}\r\n", cells.join(","));
    }
    out
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
