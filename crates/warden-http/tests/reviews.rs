//! `/v1/reviews`: who may list, read, decide and close. `admin` and `audit` tokens read
//! every review; an `approve` token sees only the reviews and items its identity reviews;
//! deciding and closing need `approve` or `admin` and the engine's reviewer rules, so the
//! subject of an emergency is refused (403) even with an `admin` token. Every other caller
//! is refused, and a bad body or parameter is named.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;

use common::{error, harnesses};

#[tokio::test]
async fn reviews_are_read_and_closed_only_by_whom_they_concern() {
    for h in harnesses().await {
        let b = h.backend;
        let dave = h.token("dave", &["intake", "approve", "admin"]).await;
        let body = json!({ "role": "payments-db.write", "purpose": "INC-9 payments down", "emergency": true });
        let a = h.post_json("/v1/requests", &dave, &body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.text);
        assert_eq!(a.body["decision"]["outcome"], "grant", "{b}: {}", a.text);

        // Everyone with a reading scope sees it; an approver sees it only if they review it.
        let audit = h.token("erin", &["audit"]).await;
        let list = h.get("/v1/reviews?state=open", &audit).await;
        assert_eq!(list.status, StatusCode::OK, "{b}: {}", list.text);
        assert_eq!(list.body.as_array().unwrap().len(), 1, "{b}");
        let id = list.body[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(list.body[0]["kind"], "break_glass");
        assert_eq!(list.body[0]["subject"], "dave");
        let bob = h.token("bob", &["approve"]).await;
        let alice = h.token("alice", &["approve"]).await;
        assert_eq!(
            h.get("/v1/reviews", &bob)
                .await
                .body
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            h.get("/v1/reviews", &alice)
                .await
                .body
                .as_array()
                .unwrap()
                .len(),
            0
        );
        let one = h.get(&format!("/v1/reviews/{id}"), &bob).await;
        assert_eq!(one.status, StatusCode::OK, "{b}: {}", one.text);
        assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
        assert!(one.body["events"].as_array().unwrap().len() >= 2);
        error(
            &h.get(&format!("/v1/reviews/{id}"), &alice).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );

        // Refused: no token, a bad token, scopes that do not read or decide reviews.
        for path in ["/v1/reviews".to_owned(), format!("/v1/reviews/{id}")] {
            error(
                &h.call(Method::GET, &path, None, None).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            );
            error(
                &h.get(&path, "wdn_not-a-token").await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            );
            let intake = h.token("bob", &["intake"]).await;
            error(
                &h.get(&path, &intake).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            );
        }
        error(
            &h.get("/v1/reviews?state=shut", &audit).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );

        let close = format!("/v1/reviews/{id}/close");
        let justified = json!({ "outcome": "justified", "comment": "INC-9 was real" });
        // An audit token reads but never closes; the subject never closes, even as admin.
        error(
            &h.post_json(&close, &audit, &justified).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        let own = h.post_json(&close, &dave, &justified).await;
        error(&own, StatusCode::FORBIDDEN, "forbidden");
        assert!(own.text.contains("own access"), "{}", own.text);
        let not_owner = h.post_json(&close, &alice, &justified).await;
        error(&not_owner, StatusCode::FORBIDDEN, "forbidden");
        error(
            &h.call(
                Method::POST,
                &close,
                None,
                Some(("application/json", justified.to_string().into_bytes())),
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        let bad = h
            .post_json(&close, &bob, &json!({ "outcome": "fine" }))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
        assert!(bad.text.contains("outcome"), "{}", bad.text);
        // A campaign's way of deciding does not apply to an emergency's review.
        let item = one.body["items"][0]["id"].as_str().unwrap().to_owned();
        let decide = format!("/v1/reviews/{id}/items/{item}/decide");
        error(
            &h.post_json(&decide, &bob, &json!({ "decision": "keep" }))
                .await,
            StatusCode::CONFLICT,
            "conflict",
        );

        // While it is open, dave's next emergency is denied, naming it.
        let again = h
            .post_json(
                "/v1/requests",
                &dave,
                &json!({ "role": "payments-db.write", "purpose": "INC-10", "emergency": true }),
            )
            .await;
        assert_eq!(
            again.body["decision"]["outcome"], "deny",
            "{b}: {}",
            again.text
        );
        assert_eq!(
            again.body["decision"]["reasons"][0]["code"],
            "break_glass_review_open"
        );

        let closed = h.post_json(&close, &bob, &justified).await;
        assert_eq!(closed.status, StatusCode::OK, "{b}: {}", closed.text);
        assert_eq!(closed.body["state"], "closed");
        assert_eq!(closed.body["outcome"], "justified");
        assert_eq!(closed.body["closed_by"], "bob");
        error(
            &h.post_json(&close, &bob, &justified).await,
            StatusCode::CONFLICT,
            "conflict",
        );
        error(
            &h.post_json("/v1/reviews/not-an-id/close", &bob, &justified)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );

        let third = h
            .post_json(
                "/v1/requests",
                &dave,
                &json!({ "role": "payments-db.write", "purpose": "INC-11", "emergency": true }),
            )
            .await;
        assert_eq!(
            third.body["decision"]["outcome"], "grant",
            "{b}: {}",
            third.text
        );
    }
}
