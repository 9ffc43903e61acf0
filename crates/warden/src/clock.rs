//! The one place that reads the wall clock; everything else is handed an instant.

use warden_model::Timestamp;

/// The current instant.
#[expect(clippy::disallowed_methods, reason = "this is the clock")]
pub fn now() -> Timestamp {
    Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}
