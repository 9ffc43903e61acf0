//! Jira Service Management: customer requests read through `/rest/servicedeskapi/request/{key}`,
//! internal comments, approvals from the approvals API, field updates and JQL polling through the
//! platform API. `[itsm.fields]` may name a request field by its id (`customfield_10050`,
//! `summary`) or its label (`Access Level`); `reporter` is the reporter's email.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use time::macros::format_description;
use warden_model::{ApprovalDecision, Timestamp};

use warden_itsm::{
    Adapter, IdentityMatch, Intake, ItsmConfig, ItsmConfigError, ItsmError, Ticket, TicketApproval,
    TicketRef,
};

use crate::http::{Http, MAX_POLL_PAGES, poll_from, str_at, text_of};

/// The Jira Service Management adapter.
pub struct Jira {
    name: String,
    http: Http,
    poll_filter: Option<String>,
    identity: IdentityMatch,
}

impl Jira {
    /// An adapter for one `[[itsm]]` block of kind `jira`.
    pub fn new(config: &ItsmConfig) -> Result<Self, ItsmConfigError> {
        Ok(Self {
            name: config.name.clone(),
            http: Http::new(config, false)?,
            poll_filter: config.poll_filter.clone(),
            identity: config.identity.attribute,
        })
    }
}

impl Jira {
    /// A field's value as text; a user (an object with an `accountId`) reads as the attribute
    /// identities are matched by, and as nothing when it lacks it.
    fn value_text(&self, v: &Value) -> Option<String> {
        if v.get("accountId").is_some() {
            let key = match self.identity {
                IdentityMatch::Email => "emailAddress",
                IdentityMatch::Login => "name",
            };
            return str_at(v, key).filter(|s| !s.is_empty()).map(str::to_owned);
        }
        text_of(v)
    }
}

/// A Jira key is `PROJECT-123`; nothing else reaches a URL.
fn issue_key(s: &str) -> Result<&str, ItsmError> {
    let t = s.trim();
    let ok = t.split_once('-').is_some_and(|(p, n)| {
        (1..=20).contains(&p.len())
            && p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && (1..=12).contains(&n.len())
            && n.chars().all(|c| c.is_ascii_digit())
    });
    if ok {
        Ok(t)
    } else {
        Err(ItsmError::invalid(format!(
            "`{}` is not a Jira key such as `ACC-12`",
            t.chars()
                .take(40)
                .filter(|c| !c.is_control())
                .collect::<String>()
        )))
    }
}

/// Jira's date objects carry `epochMillis`; plain strings are `2026-11-29T10:00:00.000+0000`.
fn parse_jira_time(v: &Value) -> Option<Timestamp> {
    if let Some(ms) = v.get("epochMillis").and_then(Value::as_i64) {
        return Timestamp::from_unix_millis(ms);
    }
    let s = v.as_str()?;
    let fmt = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    time::OffsetDateTime::parse(s, fmt)
        .ok()
        .map(Timestamp::from_datetime)
        .or_else(|| Timestamp::parse(s).ok())
}

#[async_trait]
impl Adapter for Jira {
    fn name(&self) -> &str {
        &self.name
    }

    fn ticket_from_webhook(&self, body: &[u8]) -> Result<Intake, ItsmError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| ItsmError::invalid("the webhook body is not JSON"))?;
        let key = v
            .pointer("/issue/key")
            .or_else(|| v.get("issueKey"))
            .and_then(Value::as_str)
            .ok_or_else(|| ItsmError::invalid("the webhook body names no `issue.key`"))?;
        Ok(Intake::Ticket(issue_key(key)?.to_owned()))
    }

    async fn read_ticket(&self, id: &str) -> Result<Ticket, ItsmError> {
        let key = issue_key(id)?;
        let req = self
            .http
            .request(Method::GET, &format!("/rest/servicedeskapi/request/{key}"));
        let r = self.http.json(req, &format!("request `{key}`")).await?;
        let mut fields = BTreeMap::new();
        for f in r
            .get("requestFieldValues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(value) = f.get("value").and_then(|v| self.value_text(v)) else {
                continue;
            };
            for k in ["fieldId", "label"] {
                if let Some(name) = str_at(f, k) {
                    fields.insert(name.to_owned(), value.clone());
                }
            }
        }
        // `reporter` holds the attribute identities are matched by: the email, or the
        // username of Jira Data Center (Jira Cloud has none).
        let pointer = match self.identity {
            IdentityMatch::Email => "/reporter/emailAddress",
            IdentityMatch::Login => "/reporter/name",
        };
        let requester = r
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(e) = &requester {
            fields.insert("reporter".into(), e.clone());
        }
        let status = r
            .pointer("/currentStatus/status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        fields.insert("status".into(), status.clone());
        let closed = r
            .pointer("/currentStatus/statusCategory")
            .and_then(Value::as_str)
            == Some("DONE");
        Ok(Ticket {
            id: str_at(&r, "issueKey").unwrap_or(key).to_owned(),
            status,
            closed,
            requester,
            fields,
            created_at: r.get("createdDate").and_then(parse_jira_time),
            updated_at: r
                .pointer("/currentStatus/statusDate")
                .and_then(parse_jira_time),
        })
    }

    async fn comment(&self, id: &str, text: &str) -> Result<(), ItsmError> {
        let key = issue_key(id)?;
        let req = self
            .http
            .request(
                Method::POST,
                &format!("/rest/servicedeskapi/request/{key}/comment"),
            )
            .json(&json!({ "body": text, "public": false }));
        self.http
            .send(req, &format!("request `{key}`"))
            .await
            .map(|_| ())
    }

    async fn set_status_field(&self, id: &str, field: &str, value: &str) -> Result<(), ItsmError> {
        let key = issue_key(id)?;
        let req = self
            .http
            .request(Method::PUT, &format!("/rest/api/3/issue/{key}"))
            .json(&json!({ "fields": { field: value } }));
        self.http
            .send(req, &format!("issue `{key}`"))
            .await
            .map(|_| ())
    }

    async fn approvals(&self, id: &str) -> Result<Vec<TicketApproval>, ItsmError> {
        let key = issue_key(id)?;
        let mut out = Vec::new();
        let mut start = 0u64;
        for _ in 0..MAX_POLL_PAGES {
            let req = self
                .http
                .request(
                    Method::GET,
                    &format!("/rest/servicedeskapi/request/{key}/approval"),
                )
                .query(&[("start", start.to_string()), ("limit", "50".into())]);
            let v = self
                .http
                .json(req, &format!("the approvals of `{key}`"))
                .await?;
            let values = v
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for approval in &values {
                let approval_id = approval.get("id").and_then(text_of).unwrap_or_default();
                let at = approval
                    .get("completedDate")
                    .or_else(|| approval.get("createdDate"))
                    .and_then(parse_jira_time);
                for a in approval
                    .get("approvers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let decision = match str_at(a, "approverDecision") {
                        Some("approved") => ApprovalDecision::Approve,
                        Some("declined") => ApprovalDecision::Reject,
                        _ => continue,
                    };
                    let who = a.get("approver");
                    let account = who.and_then(|w| str_at(w, "accountId")).unwrap_or_default();
                    let email = who
                        .and_then(|w| str_at(w, "emailAddress"))
                        .filter(|e| !e.is_empty());
                    let login = who
                        .and_then(|w| str_at(w, "name"))
                        .filter(|e| !e.is_empty());
                    let approver = email.or(login).unwrap_or(account);
                    if approver.is_empty() {
                        continue;
                    }
                    out.push(TicketApproval {
                        id: format!("{approval_id}:{account}"),
                        approver: approver.to_owned(),
                        email: email.map(str::to_owned),
                        login: login.map(str::to_owned),
                        decision,
                        at,
                    });
                }
            }
            let last = v.get("isLastPage").and_then(Value::as_bool).unwrap_or(true);
            if last || values.is_empty() {
                break;
            }
            start += u64::try_from(values.len()).unwrap_or(0);
        }
        Ok(out)
    }

    async fn updated_since(&self, cursor: Timestamp) -> Result<Vec<TicketRef>, ItsmError> {
        // JQL reads minutes in the API account's zone: ask from well before, filter exactly below.
        let since = poll_from(cursor)
            .as_datetime()
            .format(format_description!("[year]/[month]/[day] [hour]:[minute]"))
            .unwrap_or_else(|_| "1970/01/01 00:00".into());
        let jql = match &self.poll_filter {
            Some(f) => format!("({f}) AND updated >= \"{since}\" ORDER BY updated ASC"),
            None => format!("updated >= \"{since}\" ORDER BY updated ASC"),
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_POLL_PAGES {
            let mut query = vec![
                ("jql", jql.clone()),
                ("fields", "updated".to_owned()),
                ("maxResults", "100".to_owned()),
            ];
            if let Some(t) = &token {
                query.push(("nextPageToken", t.clone()));
            }
            let req = self
                .http
                .request(Method::GET, "/rest/api/3/search/jql")
                .query(&query);
            let v = self.http.json(req, "the issue search").await?;
            for issue in v
                .get("issues")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(key), Some(at)) = (
                    str_at(issue, "key"),
                    issue.pointer("/fields/updated").and_then(parse_jira_time),
                ) else {
                    continue;
                };
                if at >= cursor {
                    out.push(TicketRef {
                        id: key.to_owned(),
                        updated_at: at,
                    });
                }
            }
            token = str_at(&v, "nextPageToken").map(str::to_owned);
            let last = v.get("isLast").and_then(Value::as_bool).unwrap_or(true);
            if last || token.is_none() {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_times_parse() {
        assert!(issue_key("ACC-12").is_ok());
        assert!(issue_key("acc-12").is_err());
        assert!(issue_key("ACC-12/../../x").is_err());
        let t = parse_jira_time(&json!("2026-11-29T10:05:00.000+0100")).unwrap();
        assert_eq!(t.to_string(), "2026-11-29T09:05:00Z");
        let t = parse_jira_time(&json!({"epochMillis": 1_795_946_400_000_i64})).unwrap();
        assert_eq!(t.to_string(), "2026-11-29T10:00:00Z");
    }
}
