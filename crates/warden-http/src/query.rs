//! Query strings: every parameter must be known and given at most once.

use std::collections::HashMap;

use crate::error::ApiError;

/// The parameters of `raw`, refusing any not in `allowed` and any given twice.
pub fn params(raw: Option<&str>, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::InvalidQuery(format!("the query string cannot be read: {e}")))?;
    let mut out = HashMap::new();
    for (key, value) in pairs {
        if !allowed.contains(&key.as_str()) {
            let known: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
            return Err(ApiError::InvalidQuery(if known.is_empty() {
                format!("unknown query parameter `{key}`: this endpoint takes none")
            } else {
                format!(
                    "unknown query parameter `{key}`; expected {}",
                    known.join(", ")
                )
            }));
        }
        if out.contains_key(&key) {
            return Err(ApiError::InvalidQuery(format!(
                "query parameter `{key}` is given more than once"
            )));
        }
        out.insert(key, value);
    }
    Ok(out)
}

/// Parses `value` of parameter `name` as a whole number in `min..=max`.
pub fn number<T>(name: &str, value: &str, min: T, max: T) -> Result<T, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(ApiError::InvalidQuery(format!(
            "`{name}` must be a whole number from {min} to {max}, not `{value}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        assert!(params(Some("a=1"), &["a"]).is_ok());
        assert!(matches!(
            params(Some("b=1"), &["a"]),
            Err(ApiError::InvalidQuery(m)) if m.contains("`b`")
        ));
        assert!(matches!(
            params(Some("a=1&a=2"), &["a"]),
            Err(ApiError::InvalidQuery(m)) if m.contains("more than once")
        ));
        assert!(params(None, &[]).is_ok_and(|p| p.is_empty()));
    }

    #[test]
    fn numbers_are_range_checked() {
        assert_eq!(number::<u32>("limit", "5", 1, 10).ok(), Some(5));
        assert!(number::<u32>("limit", "0", 1, 10).is_err());
        assert!(number::<u32>("limit", "x", 1, 10).is_err());
    }
}
