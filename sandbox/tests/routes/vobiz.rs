//! The Vobiz dialect: endpoints under /api/v1/Account/{auth_id}/, X-Auth-ID/X-Auth-Token.

use serde_json::{json, Value};

use crate::common::*;

fn list_uri(query: &str) -> String {
    format!("{}Endpoint/{query}", vobiz_base())
}

fn usernames(page: &Value) -> Vec<String> {
    page["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn all(app: &axum::Router, filters: &str) -> Value {
    let answer = send(
        app,
        "GET",
        &list_uri(&format!("?limit=100&{filters}")),
        Auth::Vobiz,
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{filters}: {}", answer.text);
    answer.json()
}

#[tokio::test]
async fn list_carries_exactly_the_documented_fields() {
    let app = app(40, 0.5);
    let body = send(&app, "GET", &list_uri(""), Auth::Vobiz, None)
        .await
        .json();
    let example = fixture("vobiz/list.json");
    assert_eq!(keys(&body), keys(&example));
    assert_eq!(keys(&body["meta"]), keys(&example["meta"]));
    assert_eq!(body["meta"]["limit"], 20, "the documented default");
    let objects = body["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 20);
    for object in objects {
        assert_eq!(keys(object), keys(&example["objects"][0]));
        match object["sip_registered"].as_str().unwrap() {
            "true" => {
                assert!(object["sip_contact"].is_string() && object["sip_expires"].is_string())
            }
            "false" => {
                assert!(object["sip_contact"].is_null() && object["sip_user_agent"].is_null())
            }
            other => panic!("sip_registered {other}"),
        }
        match &object["application"] {
            Value::Null => {}
            app => assert_eq!(keys(app), keys(&example["objects"][0]["application"])),
        }
    }
}

#[tokio::test]
async fn page_size_up_to_100() {
    let app = app(150, 0.4);
    assert_eq!(usernames(&all(&app, "").await).len(), 100);
    for query in ["?limit=101", "?limit=0", "?offset=x"] {
        let answer = send(&app, "GET", &list_uri(query), Auth::Vobiz, None).await;
        assert_eq!(answer.status, 400, "{query}");
        assert_error_body(&answer, true);
        let field = answer.json()["error"]["details"]["field"].clone();
        assert!(field == "limit" || field == "offset", "{query}: {field}");
    }
    let past = send(&app, "GET", &list_uri("?offset=150"), Auth::Vobiz, None)
        .await
        .json();
    assert_eq!(
        (
            past["objects"].as_array().unwrap().len(),
            past["meta"]["total_count"].clone()
        ),
        (0, json!(150))
    );
}

#[tokio::test]
async fn every_filter() {
    let app = app(64, 0.4);
    let every = usernames(&all(&app, "").await);
    assert_eq!(every.len(), 64);
    let page = all(&app, "").await;
    let objects = page["objects"].as_array().unwrap();
    let expect = |keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
        objects
            .iter()
            .filter(|o| keep(o))
            .map(|o| o["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "username__contains=ice",
            expect(&|o| o["username"].as_str().unwrap().contains("ice")),
        ),
        ("username__exact=bob_0001", vec!["bob_0001".to_owned()]),
        (
            "username__startswith=carol",
            expect(&|o| o["username"].as_str().unwrap().starts_with("carol")),
        ),
        (
            "alias__contains=desk",
            expect(&|o| o["alias"].as_str().unwrap().contains("desk")),
        ),
        (
            "alias__exact=Dave%27s%20mobile%20phone",
            expect(&|o| o["alias"] == "Dave's mobile phone"),
        ),
        (
            "application_id__exact=12345679",
            expect(&|o| o["application"]["app_id"] == "12345679"),
        ),
        (
            "application_id__isnull=true",
            expect(&|o| o["application"].is_null()),
        ),
        (
            "application_id__isnull=false",
            expect(&|o| !o["application"].is_null()),
        ),
        (
            "sub_account=SASANDBOXSUB00000001",
            expect(&|o| o["sub_account"] == "SASANDBOXSUB00000001"),
        ),
        (
            "alias__contains=desk&application_id__isnull=true",
            expect(&|o| {
                o["alias"].as_str().unwrap().contains("desk") && o["application"].is_null()
            }),
        ),
        ("username__exact=nobody", vec![]),
    ];
    for (filters, expected) in cases {
        let page = all(&app, filters).await;
        let got = usernames(&page);
        assert_eq!(got, expected, "{filters}");
        assert_eq!(
            page["meta"]["total_count"],
            json!(expected.len()),
            "{filters}: total counts the matches"
        );
        assert!(
            filters.contains("nobody") || !got.is_empty(),
            "{filters} matches something in the seed"
        );
        assert!(
            got.len() < every.len() || filters.contains("isnull"),
            "{filters} filters something out"
        );
    }
    for bad in ["application_id__exact=abc", "application_id__isnull=maybe"] {
        let answer = send(
            &app,
            "GET",
            &list_uri(&format!("?{bad}")),
            Auth::Vobiz,
            None,
        )
        .await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_error_body(&answer, true);
    }
}

#[tokio::test]
async fn filters_are_checked_even_when_nothing_would_match() {
    let app = app(0, 0.0);
    let answer = send(
        &app,
        "GET",
        &list_uri("?application_id__exact=abc"),
        Auth::Vobiz,
        None,
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()["error"]["details"]["field"],
        "application_id__exact"
    );
}

#[tokio::test]
async fn next_links_keep_the_filters() {
    let app = app(64, 0.4);
    let page = send(
        &app,
        "GET",
        &list_uri("?limit=5&alias__contains=desk"),
        Auth::Vobiz,
        None,
    )
    .await
    .json();
    let next = page["meta"]["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "{}Endpoint/?limit=5&offset=5&alias__contains=desk",
            vobiz_base()
        )
    );
    let second = send(&app, "GET", next, Auth::Vobiz, None).await.json();
    assert!(usernames(&second)
        .iter()
        .all(|u| !usernames(&page).contains(u)));
    assert_eq!(
        second["meta"]["previous"],
        json!(format!(
            "{}Endpoint/?limit=5&offset=0&alias__contains=desk",
            vobiz_base()
        ))
    );
}

#[tokio::test]
async fn create_with_flags_update_and_delete() {
    let app = app(2, 0.0);
    let created = send(
        &app,
        "POST",
        &list_uri(""),
        Auth::Vobiz,
        Some(json!({"username": "deskphone7", "password": "hunter22", "alias": "desk-7", "application": "12345680",
                    "allow_video": true, "allow_phones": false, "sub_account": "SASANDBOXSUB00000002"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    assert_eq!(
        keys(&created),
        [
            "api_id",
            "endpoint_id",
            "message",
            "resource_uri",
            "sip_uri"
        ]
        .map(String::from)
        .into()
    );
    let id = created["endpoint_id"].as_str().unwrap().to_owned();
    let uri = format!("{}Endpoint/{id}/", vobiz_base());
    let got = send(&app, "GET", &uri, Auth::Vobiz, None).await.json();
    assert_eq!(
        got["username"], "deskphone7",
        "Vobiz keeps the name as given"
    );
    assert_eq!(
        got["application"],
        json!({"app_id": "12345680", "app_name": "Front Desk"})
    );
    assert_eq!(got["allow_video"], true);
    assert_eq!(got["allow_phones"], false);
    assert_eq!(
        got["allow_voice"], true,
        "unspecified flags take their defaults"
    );
    assert_eq!(got["sub_account"], "SASANDBOXSUB00000002");
    assert_eq!(
        got["password"],
        json!(endpoint_sandbox::sip::auth::md5_hex("hunter22"))
    );

    let duplicate = send(
        &app,
        "POST",
        &list_uri(""),
        Auth::Vobiz,
        Some(json!({"username": "deskphone7", "password": "hunter22", "alias": "x"})),
    )
    .await;
    assert_eq!(duplicate.status, 409);
    assert_error_body(&duplicate, true);
    assert_eq!(duplicate.json()["error"]["details"]["field"], "username");

    let updated = send(
        &app,
        "POST",
        &uri,
        Auth::Vobiz,
        Some(json!({"alias": "desk-8", "application": "12345678"})),
    )
    .await;
    assert_eq!(updated.status, 202);
    assert_eq!(
        updated.text, "",
        "Vobiz may answer an update with an empty body"
    );
    let got = send(&app, "GET", &uri, Auth::Vobiz, None).await.json();
    assert_eq!(got["alias"], "desk-8");
    assert_eq!(got["application"]["app_id"], "12345678");

    let rename = send(
        &app,
        "POST",
        &uri,
        Auth::Vobiz,
        Some(json!({"username": "other"})),
    )
    .await;
    assert_eq!(rename.status, 400);
    assert_eq!(rename.json()["error"]["details"]["field"], "username");
    let nothing = send(&app, "POST", &uri, Auth::Vobiz, Some(json!({}))).await;
    assert_eq!(nothing.status, 400);

    assert_eq!(
        send(&app, "DELETE", &uri, Auth::Vobiz, None).await.status,
        204
    );
    let gone = send(&app, "GET", &uri, Auth::Vobiz, None).await;
    assert_eq!(gone.status, 404);
    assert_error_body(&gone, true);
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let app = app(0, 0.0);
    for (body, field) in [
        (
            json!({"username": "a_b", "password": "hunter22", "alias": "a"}),
            "username",
        ),
        (
            json!({"username": "ab", "password": "abc", "alias": "a"}),
            "password",
        ),
        (
            json!({"username": "ab", "password": "hunter22", "alias": "a", "allow_video": "yes"}),
            "allow_video",
        ),
        (
            json!({"username": "ab", "password": "hunter22", "alias": "a", "sub_account": "SAUNKNOWN"}),
            "sub_account",
        ),
        (
            json!({"username": "ab", "password": "hunter22", "alias": "a", "application": "1"}),
            "application",
        ),
    ] {
        let answer = send(&app, "POST", &list_uri(""), Auth::Vobiz, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_error_body(&answer, true);
        assert_eq!(answer.json()["error"]["details"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn auth_failures() {
    let app = app(2, 0.0);
    for auth in [Auth::None, Auth::Wrong, Auth::Plivo] {
        let answer = send(&app, "GET", &list_uri(""), auth, None).await;
        assert_eq!(answer.status, 401);
        assert_error_body(&answer, true);
        assert_eq!(answer.json()["error"]["code"], "UNAUTHORIZED");
    }
    let other = send(
        &app,
        "GET",
        "/api/v1/Account/MAOTHERACCOUNT000001/Endpoint/",
        Auth::Vobiz,
        None,
    )
    .await;
    assert_eq!(other.status, 404);
    assert_error_body(&other, true);
}

#[tokio::test]
async fn there_is_no_token_api() {
    let app = app(0, 0.0);
    let answer = send(
        &app,
        "POST",
        &format!("{}JWT/Token/", vobiz_base()),
        Auth::Vobiz,
        Some(json!({})),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_error_body(&answer, true);
}
