//! An error and its causes on one line, for logs, panics in tests and a job's last error.

/// `e`'s message followed by each of its sources, separated by `: `.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
