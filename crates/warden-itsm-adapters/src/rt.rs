//! Request Tracker 5 through REST2 (`/REST/2.0`): tickets with their custom fields, comments,
//! custom-field write-back, approvals from the ticket history, and TicketSQL polling.
//! In `[itsm.fields]`, `CF.<Name>` is a custom field and a plain word a ticket field
//! (`Requestor`, `Subject`, `Owner`); `Requestor` and `Owner` read as the user's email.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use warden_model::{ApprovalDecision, Timestamp};

use warden_itsm::{
    Adapter, ApprovalConfig, IdentityMatch, Intake, ItsmConfig, ItsmConfigError, ItsmError, Ticket,
    TicketApproval, TicketRef,
};

use crate::http::{Http, MAX_POLL_PAGES, format_sql_time, poll_from, str_at, text_of};

/// Statuses of RT's default lifecycle that end a ticket.
const CLOSED: [&str; 3] = ["resolved", "rejected", "deleted"];
const PER_PAGE: usize = 100;

/// The Request Tracker 5 adapter.
pub struct Rt {
    name: String,
    http: Http,
    approval: Option<ApprovalConfig>,
    poll_filter: Option<String>,
    identity: IdentityMatch,
    queue: String,
}

/// The queue alerts open tickets in when the block names none: RT's default queue.
const DEFAULT_QUEUE: &str = "General";

impl Rt {
    /// An adapter for one `[[itsm]]` block of kind `rt`.
    pub fn new(config: &ItsmConfig) -> Result<Self, ItsmConfigError> {
        Ok(Self {
            name: config.name.clone(),
            http: Http::new(config, true)?,
            approval: config.approval.clone(),
            poll_filter: config.poll_filter.clone(),
            identity: config.identity.attribute,
            queue: config
                .queue
                .clone()
                .unwrap_or_else(|| DEFAULT_QUEUE.to_owned()),
        })
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Value, ItsmError> {
        let req = self
            .http
            .request(Method::GET, &format!("/REST/2.0{path}"))
            .query(query);
        self.http.json(req, what).await
    }

    /// What a user field reads as: the login itself when identities are matched by login,
    /// else the user's email (the login when RT has none, which then matches no identity).
    async fn user_value(&self, login: &str) -> Result<String, ItsmError> {
        if self.identity == IdentityMatch::Login {
            return Ok(login.to_owned());
        }
        self.user_email(login).await
    }

    /// A user's email (their login when they have none).
    async fn user_email(&self, login: &str) -> Result<String, ItsmError> {
        if login.contains('@') {
            return Ok(login.to_owned());
        }
        let path = format!("/user/{}", encode_path(login));
        // An API account without rights on users still works: the login stands in.
        let user = match self.get(&path, &[], &format!("user `{login}`")).await {
            Ok(u) => u,
            Err(ItsmError::Unauthorized { .. } | ItsmError::NotFound { .. }) => {
                return Ok(login.to_owned());
            }
            Err(e) => return Err(e),
        };
        Ok(str_at(&user, "EmailAddress")
            .filter(|e| !e.is_empty())
            .unwrap_or(login)
            .to_owned())
    }

    /// The custom fields of a ticket as `(id, name, values)`.
    fn custom_fields(ticket: &Value) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        if let Some(items) = ticket.get("CustomFields").and_then(Value::as_array) {
            for cf in items {
                let id = cf.get("id").and_then(text_of).unwrap_or_default();
                let name = str_at(cf, "name").unwrap_or_default().to_owned();
                let values = cf.get("values").and_then(text_of).unwrap_or_default();
                if !name.is_empty() {
                    out.push((id, name, values));
                }
            }
        }
        out
    }

    async fn ticket_json(&self, id: &str) -> Result<Value, ItsmError> {
        let id = ticket_number(id)?;
        self.get(&format!("/ticket/{id}"), &[], &format!("ticket `{id}`"))
            .await
    }
}

/// An RT ticket id is a positive number; anything else never reaches a URL.
fn ticket_number(id: &str) -> Result<u64, ItsmError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ItsmError::invalid(format!("`{}` is not an RT ticket number", clip(id))))
}

fn clip(s: &str) -> String {
    s.chars().take(40).filter(|c| !c.is_control()).collect()
}

/// Percent-encodes one path segment.
fn encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a REST2 collection has a page after `page`. RT leaves `pages` null when it did not
/// count (as when `fields` is asked for), so a full page also means "maybe more".
fn more_pages(v: &Value, page: usize) -> bool {
    if page >= MAX_POLL_PAGES {
        return false;
    }
    if let Some(pages) = v.get("pages").and_then(Value::as_u64) {
        return u64::try_from(page).unwrap_or(u64::MAX) < pages;
    }
    let count = v.get("items").and_then(Value::as_array).map_or(0, Vec::len);
    let per_page = v
        .get("per_page")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(PER_PAGE);
    count > 0 && count >= per_page
}

fn parse_time(v: Option<&str>) -> Option<Timestamp> {
    // RT writes unset dates as the epoch.
    v.and_then(|s| Timestamp::parse(s).ok())
        .filter(|t| t.unix_seconds() > 0)
}

#[async_trait]
impl Adapter for Rt {
    fn name(&self) -> &str {
        &self.name
    }

    fn ticket_from_webhook(&self, body: &[u8]) -> Result<Intake, ItsmError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| ItsmError::invalid("the webhook body is not JSON"))?;
        // The scrip of docs/itsm.md sends `data.ticket_id`; a hand-written one may send `id`.
        let id = v
            .pointer("/data/ticket_id")
            .or_else(|| v.get("ticket_id"))
            .or_else(|| v.get("id"))
            .and_then(text_of)
            .ok_or_else(|| ItsmError::invalid("the webhook body names no `data.ticket_id`"))?;
        Ok(Intake::Ticket(ticket_number(&id)?.to_string()))
    }

    async fn read_ticket(&self, id: &str) -> Result<Ticket, ItsmError> {
        let t = self.ticket_json(id).await?;
        let mut fields = BTreeMap::new();
        for key in ["Subject", "Status", "Type", "Priority"] {
            if let Some(v) = t.get(key).and_then(text_of) {
                fields.insert(key.to_owned(), v);
            }
        }
        if let Some(q) = t.pointer("/Queue/id").and_then(text_of) {
            fields.insert("Queue".into(), q);
        }
        for (_, name, values) in Self::custom_fields(&t) {
            fields.insert(format!("CF.{name}"), values);
        }
        let requestor_login = t
            .get("Requestor")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(|u| str_at(u, "id"))
            .map(str::to_owned);
        let requester = match &requestor_login {
            Some(login) => Some(self.user_value(login).await?),
            None => None,
        };
        if let Some(r) = &requester {
            fields.insert("Requestor".into(), r.clone());
        }
        if let Some(owner) = t.pointer("/Owner/id").and_then(Value::as_str)
            && owner != "Nobody"
        {
            fields.insert("Owner".into(), self.user_value(owner).await?);
        }
        let status = str_at(&t, "Status").unwrap_or_default().to_owned();
        Ok(Ticket {
            id: ticket_number(id)?.to_string(),
            closed: CLOSED.contains(&status.as_str()),
            status,
            requester,
            fields,
            created_at: parse_time(str_at(&t, "Created")),
            updated_at: parse_time(str_at(&t, "LastUpdated")),
        })
    }

    async fn comment(&self, id: &str, text: &str) -> Result<(), ItsmError> {
        let n = ticket_number(id)?;
        let req = self
            .http
            .request(Method::POST, &format!("/REST/2.0/ticket/{n}/comment"))
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(text.to_owned());
        self.http
            .send(req, &format!("ticket `{n}`"))
            .await
            .map(|_| ())
    }

    async fn open_ticket(&self, subject: &str, text: &str) -> Result<String, ItsmError> {
        let body = json!({
            "Queue": self.queue,
            "Subject": subject,
            "Content": text,
            "ContentType": "text/plain",
        });
        let req = self
            .http
            .request(Method::POST, "/REST/2.0/ticket")
            .json(&body);
        let what = format!("queue `{}`", self.queue);
        let made = self.http.json(req, &what).await?;
        made.get("id")
            .and_then(text_of)
            .and_then(|id| ticket_number(&id).ok())
            .map(|n| n.to_string())
            .ok_or_else(|| ItsmError::invalid("RT answered a new ticket without its id"))
    }

    async fn set_status_field(&self, id: &str, field: &str, value: &str) -> Result<(), ItsmError> {
        let n = ticket_number(id)?;
        let body = match field.strip_prefix("CF.") {
            Some(cf) => json!({ "CustomFields": { cf: value } }),
            None => json!({ field: value }),
        };
        let req = self
            .http
            .request(Method::PUT, &format!("/REST/2.0/ticket/{n}"))
            .json(&body);
        let resp = self.http.json(req, &format!("ticket `{n}`")).await?;
        // RT answers 200 with a list of messages even when a field was not changed; a message
        // saying so becomes an error rather than a silent no-op.
        if let Some(msgs) = resp.as_array() {
            for m in msgs.iter().filter_map(Value::as_str) {
                let lower = m.to_ascii_lowercase();
                if lower.contains("permission denied")
                    || lower.contains("invalid")
                    || lower.contains("no such")
                {
                    return Err(ItsmError::invalid(format!(
                        "RT did not set `{field}` on ticket `{n}`: {}",
                        m.chars()
                            .take(200)
                            .filter(|c| !c.is_control())
                            .collect::<String>()
                    )));
                }
            }
        }
        Ok(())
    }

    async fn approvals(&self, id: &str) -> Result<Vec<TicketApproval>, ItsmError> {
        let Some(approval) = &self.approval else {
            return Ok(Vec::new());
        };
        let Some(field) = approval.field.as_deref() else {
            return Ok(Vec::new());
        };
        let n = ticket_number(id)?;
        // A custom-field change names the field by id in its transaction.
        let cf_id = match field.strip_prefix("CF.") {
            Some(cf) => {
                let t = self.ticket_json(id).await?;
                let found = Self::custom_fields(&t)
                    .into_iter()
                    .find(|(_, name, _)| name == cf)
                    .map(|(id, _, _)| id);
                Some(found.ok_or_else(|| {
                    ItsmError::invalid(format!(
                        "ticket `{n}` has no custom field `{cf}` (the approval field)"
                    ))
                })?)
            }
            None => None,
        };
        let mut out = Vec::new();
        let mut page = 1usize;
        loop {
            let query = [
                ("fields", "Type,Field,NewValue,Created,Creator".to_owned()),
                ("fields[Creator]", "Name,EmailAddress".to_owned()),
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            let v = self
                .get(
                    &format!("/ticket/{n}/history"),
                    &query,
                    &format!("ticket `{n}`"),
                )
                .await?;
            for item in v
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let kind = str_at(item, "Type").unwrap_or_default();
                let changed = item.get("Field").and_then(text_of).unwrap_or_default();
                let relevant = match &cf_id {
                    Some(cf) => kind == "CustomField" && &changed == cf,
                    None => (kind == "Status" || kind == "Set") && changed == field,
                };
                if !relevant {
                    continue;
                }
                let new = item.get("NewValue").and_then(text_of).unwrap_or_default();
                let decision = if new.eq_ignore_ascii_case(&approval.approved) {
                    ApprovalDecision::Approve
                } else if new.eq_ignore_ascii_case(&approval.rejected) {
                    ApprovalDecision::Reject
                } else {
                    continue;
                };
                let creator = item.get("Creator");
                let email = creator
                    .and_then(|c| str_at(c, "EmailAddress"))
                    .filter(|e| !e.is_empty());
                let login = creator
                    .and_then(|c| str_at(c, "Name"))
                    .or_else(|| creator.and_then(|c| str_at(c, "id")))
                    .filter(|e| !e.is_empty());
                let approver = email.or(login).unwrap_or_default().to_owned();
                if approver.is_empty() {
                    continue;
                }
                out.push(TicketApproval {
                    id: item.get("id").and_then(text_of).unwrap_or_default(),
                    approver,
                    email: email.map(str::to_owned),
                    login: login.map(str::to_owned),
                    decision,
                    at: parse_time(str_at(item, "Created")),
                });
            }
            if !more_pages(&v, page) {
                break;
            }
            page += 1;
        }
        Ok(out)
    }

    async fn updated_since(&self, cursor: Timestamp) -> Result<Vec<TicketRef>, ItsmError> {
        let since = format_sql_time(poll_from(cursor));
        let query = match &self.poll_filter {
            Some(f) => format!("({f}) AND LastUpdated >= '{since}'"),
            None => format!("LastUpdated >= '{since}'"),
        };
        let mut out = Vec::new();
        let mut page = 1usize;
        loop {
            let params = [
                ("query", query.clone()),
                ("fields", "LastUpdated".to_owned()),
                ("orderby", "LastUpdated".to_owned()),
                ("order", "ASC".to_owned()),
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            let v = self.get("/tickets", &params, "the ticket search").await?;
            for item in v
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(id), Some(at)) = (
                    item.get("id").and_then(text_of),
                    parse_time(str_at(item, "LastUpdated")),
                ) else {
                    continue;
                };
                if at >= cursor {
                    out.push(TicketRef { id, updated_at: at });
                }
            }
            if !more_pages(&v, page) {
                break;
            }
            page += 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbers_are_ticket_ids() {
        assert_eq!(ticket_number("42").unwrap(), 42);
        assert!(ticket_number("0").is_err());
        assert!(ticket_number("42/../user/root").is_err());
        assert_eq!(encode_path("a b/c"), "a%20b%2Fc");
    }
}
