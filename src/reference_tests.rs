//! Every file in `tests/fixtures/reference/`, real answers captured by the official Plivo
//! SDKs' test suites and Vobiz's SDK mocks (its PROVENANCE.md says where each comes from),
//! through the client's own operations with a transport that answers with the file: what
//! the platforms really send, which the library must keep reading. A file no rule below
//! takes fails the test, so a new fixture cannot go unread. Where the project's shared
//! reference copy is present beside the repository, the copy here must match it.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::{json, Value};

use crate::client::tests::{client_with, Fake, Script, TestClient};
use crate::config::Dialect;
use crate::endpoint::tests::rows_json;
use crate::endpoint::{CreateEndpointRequest, UpdateEndpointRequest};
use crate::error::ErrorCode;
use crate::fields::tests::arg;
use crate::http::ApiResponse;
use crate::query::ListQuery;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference")
}

/// Every fixture file (not PROVENANCE.md), as `folder/name`.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for folder in std::fs::read_dir(dir).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            out.push(format!(
                "{}/{}",
                folder.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

/// A client with the default retry policy, as users have it.
fn client(dialect: Dialect) -> (TestClient, Rc<Script>, Rc<Fake>) {
    client_with(dialect, None)
}

fn answer(script: &Script, status: u16, body: &str) {
    script.answers.borrow_mut().push(Ok(ApiResponse {
        status,
        body: body.as_bytes().to_vec(),
        retry_after: None,
        date: None,
    }));
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

/// What an endpoint's registration reads as: the same shape on both platforms.
fn check_registration(endpoint: &Value, file: &str) {
    let registered = endpoint["sipRegistered"].as_bool().unwrap();
    let expires = &endpoint["sipExpires"];
    if registered {
        let iso = expires
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no expiry"));
        assert!(
            iso.len() == 20 && iso.ends_with('Z') && &iso[10..11] == "T",
            "{file}: {iso} is ISO 8601 UTC"
        );
        assert!(
            endpoint["sipContact"].is_string(),
            "{file}: the contact as sent"
        );
    } else {
        // Plivo leaves the fields out, Vobiz sends null: both read as null.
        for field in ["sipContact", "sipExpires", "sipUserAgent"] {
            assert_eq!(endpoint[field], Value::Null, "{file}: {field}");
        }
    }
    assert!(
        endpoint.get("password").is_none(),
        "{file}: no password hash"
    );
}

/// Reads one fixture the way the library meets it; answers what was checked.
fn read(file: &str, body: &str) -> &'static str {
    let dialect = if file.starts_with("vobiz") {
        Dialect::Vobiz
    } else {
        Dialect::Plivo
    };
    let (c, script, fake) = client(dialect);
    let name = file.to_ascii_lowercase();
    if name.ends_with(".request.json") {
        // What Vobiz's SDK sends: the library takes the same fields (its own names).
        let sent: Value = serde_json::from_str(body).unwrap();
        if name.contains("create") {
            let request = CreateEndpointRequest::read(arg(json!({
                "username": sent["username"], "password": sent["password"], "alias": "desk",
                "appId": sent["application"].to_string(),
            })))
            .unwrap_or_else(|e| panic!("{file}: {}", e.message));
            assert_eq!(request.username, sent["username"]);
        } else {
            UpdateEndpointRequest::read(arg(json!({
                "alias": "desk", "password": sent["password"],
            })))
            .unwrap_or_else(|e| panic!("{file}: {}", e.message));
        }
        return "a request body the library can send";
    }
    if name.contains("401") || name.contains("notfound") || name.contains("error") {
        let status = if name.contains("401") { 401 } else { 404 };
        answer(&script, status, body);
        let e = block_on(c.get_endpoint("1")).unwrap_err();
        assert_eq!(e.code, ErrorCode::for_status(status), "{file}");
        let words: Value = serde_json::from_str(body).unwrap();
        let said = words["error"].as_str().unwrap();
        assert!(
            e.message.contains(said),
            "{file}: {} lacks {said:?}",
            e.message
        );
        return "an error with the platform's words";
    }
    if name.contains("list") {
        answer(&script, 200, body);
        let page = block_on(c.list_endpoints(&ListQuery::default()))
            .unwrap_or_else(|e| panic!("{file}: {}", e.message));
        let objects = rows_json(&page.rows);
        assert!(!objects.is_empty(), "{file}");
        for endpoint in &objects {
            check_registration(endpoint, file);
        }
        return "a page";
    }
    if name.contains("get") || name.contains("retrieve") {
        answer(&script, 200, body);
        let endpoint =
            block_on(c.get_endpoint("1")).unwrap_or_else(|e| panic!("{file}: {}", e.message));
        check_registration(&rows_json(&endpoint.rows)[0], file);
        return "an endpoint";
    }
    if name.contains("create") && name.contains("token") || name.contains("tokencre") {
        answer(&script, 200, body);
        // The recorded tokens are from 2022: the clock is put inside their lifetime.
        let token = serde_json::from_str::<Value>(body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let decoded = crate::token::decode::decode_access_token(&token).unwrap();
        assert_eq!(decoded.header.cty.as_deref(), Some("plivo;v=1"), "{file}");
        fake.now.set((decoded.claims.nbf + 60) as f64 * 1000.0);
        let request = crate::token::tests::token_request(json!({"ttlSeconds": 600}));
        let (issued, _) =
            block_on(c.create_token(&request)).unwrap_or_else(|e| panic!("{file}: {}", e.message));
        assert_eq!(issued.token, token, "{file}");
        return "a token";
    }
    if name.contains("create") {
        answer(&script, 201, body);
        let request = CreateEndpointRequest::read(arg(
            json!({"username": "callme", "password": "s3cret", "alias": "callme"}),
        ))
        .unwrap();
        let created = block_on(c.create_endpoint(&request))
            .unwrap_or_else(|e| panic!("{file}: {}", e.message));
        assert!(!created.endpoint_id.is_empty(), "{file}");
        assert!(!created.username.is_empty(), "{file}");
        return "a created endpoint";
    }
    if name.contains("update") {
        answer(&script, 202, body);
        let fields = UpdateEndpointRequest::read(arg(json!({"alias": "desk"}))).unwrap();
        block_on(c.update_endpoint("1", &fields))
            .unwrap_or_else(|e| panic!("{file}: {}", e.message));
        return "an update";
    }
    if name.contains("delete") {
        answer(&script, 204, body);
        block_on(c.delete_endpoint("1")).unwrap_or_else(|e| panic!("{file}: {}", e.message));
        return "a delete";
    }
    panic!("{file}: no rule reads this fixture; add one");
}

#[test]
fn every_reference_fixture_is_read() {
    let dir = reference_dir();
    let files = files(&dir);
    assert!(files.len() >= 50, "{} fixtures", files.len());
    let mut seen = std::collections::BTreeMap::new();
    for file in &files {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        *seen.entry(read(file, &body)).or_insert(0) += 1;
    }
    // Each kind of answer is among them.
    for kind in [
        "a page",
        "an endpoint",
        "a created endpoint",
        "an update",
        "a delete",
        "a token",
        "an error with the platform's words",
        "a request body the library can send",
    ] {
        assert!(
            seen.contains_key(kind),
            "no fixture read as {kind}: {seen:?}"
        );
    }
}

#[test]
fn the_copy_matches_the_shared_reference_where_it_is_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/fixtures");
    if !shared.is_dir() {
        // A clone on its own (CI): the copy in the repository is what is read above.
        return;
    }
    let here = reference_dir();
    assert_eq!(files(&shared), files(&here), "the same files");
    for file in files(&shared) {
        assert_eq!(
            std::fs::read(shared.join(&file)).unwrap(),
            std::fs::read(here.join(&file)).unwrap(),
            "{file} differs from the shared reference: copy it again"
        );
    }
}
