//! ITSM adapters: webhook verification, ticket re-read and mapping to a request, approvals and write-back for Request Tracker, ServiceNow, Jira and a generic adapter.
