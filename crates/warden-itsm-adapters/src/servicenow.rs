//! ServiceNow through the Table API: requested items (`sc_req_item`) read by `number`, work notes
//! and field updates by `PATCH`, approvals from `sysapproval_approver`, polling on
//! `sys_updated_on`. Values are read raw (`sysparm_display_value=false`), so times are UTC and
//! choices are their values; `[itsm.fields]` may name record fields, dot-walked fields
//! (`requested_for.email`) and catalog variables (`variables.access_duration`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use warden_model::{ApprovalDecision, Timestamp};

use warden_itsm::{
    Adapter, FieldMap, Intake, ItsmConfig, ItsmConfigError, ItsmError, Ticket, TicketApproval,
    TicketRef,
};

use crate::http::{
    Http, MAX_POLL_PAGES, format_sql_time, parse_sql_time, poll_from, str_at, text_of,
};

const TABLE: &str = "/api/now/table/sc_req_item";
const APPROVALS: &str = "/api/now/table/sysapproval_approver";
const PAGE: usize = 100;
/// Fields always read besides the mapped ones.
const BASE_FIELDS: [&str; 8] = [
    "sys_id",
    "number",
    "state",
    "active",
    "short_description",
    "requested_for.email",
    "opened_by.email",
    "sys_updated_on",
];

/// The ServiceNow adapter.
pub struct ServiceNow {
    name: String,
    http: Http,
    fields: String,
    poll_filter: Option<String>,
}

impl ServiceNow {
    /// An adapter for one `[[itsm]]` block of kind `servicenow`.
    pub fn new(config: &ItsmConfig) -> Result<Self, ItsmConfigError> {
        let mut names: Vec<String> = BASE_FIELDS.iter().map(|s| (*s).to_owned()).collect();
        names.push("opened_at".into());
        if let Some(f) = &config.fields {
            names.extend(mapped(f).into_iter().map(str::to_owned));
        }
        if let Some(f) = &config.status_field {
            names.push(f.clone());
        }
        names.sort();
        names.dedup();
        for n in &names {
            if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(ItsmConfigError::new(
                    &config.name,
                    format!("`{n}` is not a ServiceNow field name (letters, digits, `_` and `.`)"),
                ));
            }
        }
        Ok(Self {
            name: config.name.clone(),
            http: Http::new(config, false)?,
            fields: names.join(","),
            poll_filter: config.poll_filter.clone(),
        })
    }

    async fn record(&self, number: &str) -> Result<Value, ItsmError> {
        let number = record_number(number)?;
        let req = self.http.request(Method::GET, TABLE).query(&[
            ("sysparm_query", format!("number={number}")),
            ("sysparm_display_value", "false".into()),
            ("sysparm_exclude_reference_link", "true".into()),
            ("sysparm_fields", self.fields.clone()),
            ("sysparm_limit", "1".into()),
        ]);
        let what = format!("requested item `{number}`");
        let v = self.http.json(req, &what).await?;
        v.get("result")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .cloned()
            .ok_or(ItsmError::NotFound { what })
    }

    async fn sys_id(&self, number: &str) -> Result<String, ItsmError> {
        let r = self.record(number).await?;
        let id = str_at(&r, "sys_id").unwrap_or_default();
        if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(id.to_owned())
        } else {
            Err(ItsmError::invalid(format!(
                "ServiceNow answered requested item `{number}` without a valid `sys_id`"
            )))
        }
    }

    async fn patch(&self, number: &str, body: Value) -> Result<(), ItsmError> {
        let sys_id = self.sys_id(number).await?;
        let req = self
            .http
            .request(Method::PATCH, &format!("{TABLE}/{sys_id}"))
            .json(&body);
        self.http
            .send(req, &format!("requested item `{number}`"))
            .await
            .map(|_| ())
    }
}

fn mapped(f: &FieldMap) -> Vec<&str> {
    let mut v = vec![f.requester.as_str(), f.purpose.as_str()];
    v.extend(
        [
            &f.subject,
            &f.system,
            &f.needs,
            &f.task,
            &f.role,
            &f.duration,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str),
    );
    v
}

/// A ServiceNow number is letters then digits (`RITM0010001`); nothing else reaches a query.
fn record_number(s: &str) -> Result<&str, ItsmError> {
    let t = s.trim();
    let letters = t.chars().take_while(char::is_ascii_uppercase).count();
    let ok = (2..=10).contains(&letters)
        && t.len() > letters
        && t.len() <= 40
        && t.chars().skip(letters).all(|c| c.is_ascii_digit());
    if ok {
        Ok(t)
    } else {
        Err(ItsmError::invalid(format!(
            "`{}` is not a ServiceNow number such as `RITM0010001`",
            t.chars()
                .take(40)
                .filter(|c| !c.is_control())
                .collect::<String>()
        )))
    }
}

#[async_trait]
impl Adapter for ServiceNow {
    fn name(&self) -> &str {
        &self.name
    }

    fn ticket_from_webhook(&self, body: &[u8]) -> Result<Intake, ItsmError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| ItsmError::invalid("the webhook body is not JSON"))?;
        let number = v
            .get("number")
            .or_else(|| v.pointer("/record/number"))
            .or_else(|| v.pointer("/result/number"))
            .and_then(text_of)
            .ok_or_else(|| ItsmError::invalid("the webhook body names no `number`"))?;
        Ok(Intake::Ticket(record_number(&number)?.to_owned()))
    }

    async fn read_ticket(&self, id: &str) -> Result<Ticket, ItsmError> {
        let r = self.record(id).await?;
        let mut fields = BTreeMap::new();
        if let Some(o) = r.as_object() {
            for (k, v) in o {
                if let Some(t) = text_of(v) {
                    fields.insert(k.clone(), t);
                }
            }
        }
        let status = fields.get("state").cloned().unwrap_or_default();
        let closed = fields.get("active").map(String::as_str) == Some("false");
        let requester = fields
            .get("opened_by.email")
            .or_else(|| fields.get("requested_for.email"))
            .filter(|s| !s.is_empty())
            .cloned();
        Ok(Ticket {
            id: str_at(&r, "number").unwrap_or(id).to_owned(),
            status,
            closed,
            requester,
            created_at: str_at(&r, "opened_at").and_then(parse_sql_time),
            updated_at: str_at(&r, "sys_updated_on").and_then(parse_sql_time),
            fields,
        })
    }

    async fn comment(&self, id: &str, text: &str) -> Result<(), ItsmError> {
        self.patch(id, json!({ "work_notes": text })).await
    }

    async fn set_status_field(&self, id: &str, field: &str, value: &str) -> Result<(), ItsmError> {
        self.patch(id, json!({ field: value })).await
    }

    async fn approvals(&self, id: &str) -> Result<Vec<TicketApproval>, ItsmError> {
        let sys_id = self.sys_id(id).await?;
        let req = self.http.request(Method::GET, APPROVALS).query(&[
            (
                "sysparm_query",
                format!("sysapproval={sys_id}^ORDERBYsys_updated_on"),
            ),
            ("sysparm_display_value", "false".into()),
            ("sysparm_exclude_reference_link", "true".into()),
            (
                "sysparm_fields",
                "sys_id,state,approver.email,approver.user_name,sys_updated_on".into(),
            ),
            ("sysparm_limit", "1000".into()),
        ]);
        let v = self
            .http
            .json(req, &format!("the approvals of `{id}`"))
            .await?;
        let mut out = Vec::new();
        for a in v
            .get("result")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let decision = match str_at(a, "state") {
                Some("approved") => ApprovalDecision::Approve,
                Some("rejected") => ApprovalDecision::Reject,
                _ => continue,
            };
            let email = str_at(a, "approver.email").filter(|s| !s.is_empty());
            let login = str_at(a, "approver.user_name").filter(|s| !s.is_empty());
            let approver = email.or(login).unwrap_or_default();
            if approver.is_empty() {
                continue;
            }
            out.push(TicketApproval {
                id: str_at(a, "sys_id").unwrap_or_default().to_owned(),
                approver: approver.to_owned(),
                email: email.map(str::to_owned),
                login: login.map(str::to_owned),
                decision,
                at: str_at(a, "sys_updated_on").and_then(parse_sql_time),
            });
        }
        Ok(out)
    }

    async fn updated_since(&self, cursor: Timestamp) -> Result<Vec<TicketRef>, ItsmError> {
        let since = format_sql_time(poll_from(cursor));
        let mut query = format!("sys_updated_on>={since}");
        if let Some(f) = &self.poll_filter {
            query = format!("{f}^{query}");
        }
        query.push_str("^ORDERBYsys_updated_on");
        let mut out = Vec::new();
        for page in 0..MAX_POLL_PAGES {
            let req = self.http.request(Method::GET, TABLE).query(&[
                ("sysparm_query", query.clone()),
                ("sysparm_display_value", "false".into()),
                ("sysparm_fields", "number,sys_updated_on".into()),
                ("sysparm_limit", PAGE.to_string()),
                ("sysparm_offset", (page * PAGE).to_string()),
            ]);
            let v = self.http.json(req, "the requested item search").await?;
            let items = v
                .get("result")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in &items {
                let (Some(id), Some(at)) = (
                    str_at(item, "number"),
                    str_at(item, "sys_updated_on").and_then(parse_sql_time),
                ) else {
                    continue;
                };
                if at >= cursor {
                    out.push(TicketRef {
                        id: id.to_owned(),
                        updated_at: at,
                    });
                }
            }
            if items.len() < PAGE {
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
    fn numbers_are_letters_then_digits() {
        assert!(record_number("RITM0010001").is_ok());
        assert!(record_number("RITM0010001^ORnumber!=x").is_err());
        assert!(record_number("0010001").is_err());
        assert!(record_number("RITM").is_err());
    }
}
