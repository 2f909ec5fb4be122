//! Endpoints: the platforms' wire shapes, read tolerantly, and the one normalised shape
//! JavaScript gets.
//!
//! Both platforms send `sip_registered` as the string `"true"`/`"false"`; `application`
//! arrives as a URI string (Plivo, some Vobiz responses) or as `{app_id, app_name}`
//! (Vobiz). The MD5 `password` hash the platforms return is never read.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::error::{Error, Result};

/// The application attached to an endpoint, in one shape whatever the platform sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct Application {
    /// The application id (taken from the URI when the platform sent a URI).
    pub app_id: Option<String>,
    /// The application's name, when the platform sent it.
    pub app_name: Option<String>,
    /// The application's resource URI, when the platform sent it.
    pub uri: Option<String>,
}

/// A SIP endpoint, normalised for JavaScript. Fields the platform did not send are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct Endpoint {
    /// The id used in every endpoint call.
    pub endpoint_id: String,
    /// The SIP username (on Plivo, with the 12 digits the platform appended).
    pub username: String,
    /// The alias ("" when the platform sent none).
    pub alias: String,
    /// The SIP URI other parties call.
    pub sip_uri: Option<String>,
    /// Whether a SIP client is registered now.
    pub sip_registered: bool,
    /// The registered client's contact, while registered.
    pub sip_contact: Option<String>,
    /// When the registration expires, as the platform formats it.
    pub sip_expires: Option<String>,
    /// The registered client's user agent.
    pub sip_user_agent: Option<String>,
    /// The attached application, or `null`.
    pub application: Option<Application>,
    /// The sub-account the endpoint belongs to, or `null`.
    pub sub_account: Option<String>,
    /// The endpoint's resource URI.
    pub resource_uri: Option<String>,
    /// Vobiz: voice calls allowed.
    pub allow_voice: Option<bool>,
    /// Vobiz: messages allowed.
    pub allow_message: Option<bool>,
    /// Vobiz: video allowed.
    pub allow_video: Option<bool>,
    /// Vobiz: calls to endpoints of the same domain allowed.
    pub allow_same_domain: Option<bool>,
    /// Vobiz: calls to other domains allowed.
    pub allow_other_domains: Option<bool>,
    /// Vobiz: calls to phone numbers allowed.
    pub allow_phones: Option<bool>,
    /// Vobiz: calls to applications allowed.
    pub allow_apps: Option<bool>,
    /// Vobiz: creation time, as the platform formats it.
    pub created_at: Option<String>,
    /// Vobiz: last update time, as the platform formats it.
    pub updated_at: Option<String>,
}

/// Pagination details of a list response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct PageMeta {
    /// Page size the platform used.
    pub limit: u32,
    /// Offset of the first result on this page.
    pub offset: u32,
    /// Matching endpoints in all pages.
    pub total_count: u32,
    /// URL of the next page, or `null` on the last page.
    pub next: Option<String>,
    /// URL of the previous page, or `null` on the first page.
    pub previous: Option<String>,
}

/// One page of endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct EndpointPage {
    /// The platform's request id (quote it to support).
    pub api_id: Option<String>,
    /// Pagination details.
    pub meta: PageMeta,
    /// The endpoints on this page.
    pub objects: Vec<Endpoint>,
}

/// The result of `createEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
#[tsify(missing_as_null)]
pub struct CreatedEndpoint {
    /// The new endpoint's id.
    pub endpoint_id: String,
    /// The SIP username to log in with: on Plivo the requested name plus 12 digits.
    pub username: String,
    /// The alias.
    pub alias: String,
    /// The SIP URI, when the platform sent it.
    pub sip_uri: Option<String>,
    /// The platform's request id.
    pub api_id: Option<String>,
}

/// Credentials after `rotatePassword`: what a web SDK's `login(username, password)` takes.
/// The password is returned once and never stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct SipCredentials {
    /// The endpoint's SIP username.
    pub username: String,
    /// The new password.
    pub password: String,
}

impl std::fmt::Debug for SipCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Registration counts over all matching endpoints (the dashboard of the Vobiz docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSummary {
    /// All matching endpoints.
    pub total: u32,
    /// Those with a registered SIP client.
    pub registered: u32,
    /// Those without.
    pub unregistered: u32,
}

impl EndpointSummary {
    /// Adds a page's endpoints to the counts.
    pub fn add(&mut self, endpoints: &[Endpoint]) {
        let registered = endpoints.iter().filter(|e| e.sip_registered).count() as u32;
        self.total += endpoints.len() as u32;
        self.registered += registered;
        self.unregistered += endpoints.len() as u32 - registered;
    }
}

// ---- wire shapes -------------------------------------------------------------------

/// A string, or a number the platform sent where the docs show a string.
fn string_like<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Text(s)) => Some(s),
        Some(Raw::Int(n)) => Some(n.to_string()),
        Some(Raw::Float(n)) => Some(n.to_string()),
        Some(Raw::Bool(b)) => Some(b.to_string()),
    })
}

/// `"true"`/`"false"` as the platforms send it, or a real boolean.
fn flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
        Int(i64),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Bool(b)) => Some(b),
        Some(Raw::Text(s)) => Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes"
        )),
        Some(Raw::Int(n)) => Some(n != 0),
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireApplication {
    Uri(String),
    Object {
        #[serde(default, deserialize_with = "string_like")]
        app_id: Option<String>,
        #[serde(default, deserialize_with = "string_like")]
        app_name: Option<String>,
    },
}

impl WireApplication {
    fn normalise(self) -> Option<Application> {
        match self {
            Self::Uri(uri) if uri.trim().is_empty() => None,
            Self::Uri(uri) => Some(Application {
                app_id: app_id_from_uri(&uri),
                app_name: None,
                uri: Some(uri),
            }),
            Self::Object {
                app_id: None,
                app_name: None,
            } => None,
            Self::Object { app_id, app_name } => Some(Application {
                app_id,
                app_name,
                uri: None,
            }),
        }
    }
}

/// `/v1/Account/MA.../Application/33406267401237901/` -> `33406267401237901`.
fn app_id_from_uri(uri: &str) -> Option<String> {
    let mut parts = uri.trim_end_matches('/').rsplit('/');
    let id = parts.next()?;
    (parts.next()? == "Application" && !id.is_empty()).then(|| id.to_owned())
}

/// An endpoint as either platform sends it. Unknown fields (and `password`) are ignored.
#[derive(Deserialize)]
pub(crate) struct WireEndpoint {
    #[serde(default, deserialize_with = "string_like")]
    endpoint_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    username: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    alias: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    sip_uri: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    sip_registered: Option<bool>,
    #[serde(default, deserialize_with = "string_like")]
    sip_contact: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    sip_expires: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    sip_user_agent: Option<String>,
    #[serde(default)]
    application: Option<WireApplication>,
    #[serde(default, deserialize_with = "string_like")]
    sub_account: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    resource_uri: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    allow_voice: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    allow_message: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    allow_video: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    allow_same_domain: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    allow_other_domains: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    allow_phones: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    allow_apps: Option<bool>,
    #[serde(default, deserialize_with = "string_like")]
    created_at: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    updated_at: Option<String>,
}

impl WireEndpoint {
    pub(crate) fn normalise(self) -> Result<Endpoint> {
        let endpoint_id = self
            .endpoint_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                Error::bad_response("An endpoint in the response has no `endpoint_id`.")
            })?;
        let username = self.username.ok_or_else(|| {
            Error::bad_response(format!(
                "Endpoint {endpoint_id} in the response has no `username`."
            ))
        })?;
        Ok(Endpoint {
            endpoint_id,
            username,
            alias: self.alias.unwrap_or_default(),
            sip_uri: self.sip_uri,
            sip_registered: self.sip_registered.unwrap_or(false),
            sip_contact: self.sip_contact,
            sip_expires: self.sip_expires,
            sip_user_agent: self.sip_user_agent,
            application: self.application.and_then(WireApplication::normalise),
            sub_account: self.sub_account,
            resource_uri: self.resource_uri,
            allow_voice: self.allow_voice,
            allow_message: self.allow_message,
            allow_video: self.allow_video,
            allow_same_domain: self.allow_same_domain,
            allow_other_domains: self.allow_other_domains,
            allow_phones: self.allow_phones,
            allow_apps: self.allow_apps,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn count<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u32, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= f64::from(u32::MAX) {
        Ok(value as u32)
    } else {
        Err(de::Error::custom(format!("expected a count, got {value}")))
    }
}

#[derive(Deserialize)]
struct WireMeta {
    #[serde(deserialize_with = "count")]
    limit: u32,
    #[serde(deserialize_with = "count")]
    offset: u32,
    #[serde(deserialize_with = "count")]
    total_count: u32,
    #[serde(default, deserialize_with = "string_like")]
    next: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    previous: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WirePage {
    #[serde(default, deserialize_with = "string_like")]
    api_id: Option<String>,
    meta: WireMeta,
    objects: Vec<WireEndpoint>,
}

impl WirePage {
    pub(crate) fn normalise(self) -> Result<EndpointPage> {
        let m = self.meta;
        Ok(EndpointPage {
            api_id: self.api_id,
            meta: PageMeta {
                limit: m.limit,
                offset: m.offset,
                total_count: m.total_count,
                next: m.next,
                previous: m.previous,
            },
            objects: self
                .objects
                .into_iter()
                .map(WireEndpoint::normalise)
                .collect::<Result<_>>()?,
        })
    }
}

/// A create response in any of the documented shapes.
#[derive(Deserialize)]
pub(crate) struct WireCreated {
    #[serde(default, deserialize_with = "string_like")]
    endpoint_id: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    username: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    alias: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    sip_uri: Option<String>,
    #[serde(default, deserialize_with = "string_like")]
    api_id: Option<String>,
}

impl WireCreated {
    /// Fills what the response left out from the request (Vobiz keeps names as given).
    pub(crate) fn normalise(
        self,
        requested_username: &str,
        requested_alias: &str,
    ) -> Result<CreatedEndpoint> {
        Ok(CreatedEndpoint {
            endpoint_id: self
                .endpoint_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| Error::bad_response("The create response has no `endpoint_id`."))?,
            username: self
                .username
                .unwrap_or_else(|| requested_username.to_owned()),
            alias: self.alias.unwrap_or_else(|| requested_alias.to_owned()),
            sip_uri: self.sip_uri,
            api_id: self.api_id,
        })
    }
}

/// Fields of `createEndpoint`. The `allow*` flags and `subAccount` are Vobiz options.
#[derive(Clone, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct CreateEndpointRequest {
    /// 1-25 letters and digits, starting with a letter. Plivo appends 12 digits.
    pub username: String,
    /// At least 5 characters.
    pub password: String,
    /// Letters, digits, hyphens and underscores.
    pub alias: String,
    /// Id of the application to attach.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Vobiz: allow voice calls.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_voice: Option<bool>,
    /// Vobiz: allow messages.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_message: Option<bool>,
    /// Vobiz: allow video.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_video: Option<bool>,
    /// Vobiz: allow calls to the same domain.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_same_domain: Option<bool>,
    /// Vobiz: allow calls to other domains.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_other_domains: Option<bool>,
    /// Vobiz: allow calls to phone numbers.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_phones: Option<bool>,
    /// Vobiz: allow calls to applications.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_apps: Option<bool>,
    /// Vobiz: the sub-account to create the endpoint in.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_account: Option<String>,
}

impl crate::fields::KnownFields for CreateEndpointRequest {
    const FIELDS: &'static [&'static str] = &[
        "username",
        "password",
        "alias",
        "appId",
        "allowVoice",
        "allowMessage",
        "allowVideo",
        "allowSameDomain",
        "allowOtherDomains",
        "allowPhones",
        "allowApps",
        "subAccount",
    ];
}

impl crate::fields::KnownFields for UpdateEndpointRequest {
    const FIELDS: &'static [&'static str] = &["password", "alias", "appId"];
}

impl std::fmt::Debug for CreateEndpointRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateEndpointRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("alias", &self.alias)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// Fields of `updateEndpoint`; at least one. The username cannot change.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEndpointRequest {
    /// A new password, at least 5 characters.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A new alias.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Id of the application to attach.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
}

impl std::fmt::Debug for UpdateEndpointRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateEndpointRequest")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("alias", &self.alias)
            .field("app_id", &self.app_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> EndpointPage {
        serde_json::from_str::<WirePage>(json)
            .unwrap()
            .normalise()
            .unwrap()
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn plivo_retrieve_example() {
        let wire: WireEndpoint = serde_json::from_str(&fixture("plivo/retrieve.json")).unwrap();
        let e = wire.normalise().unwrap();
        assert_eq!(e.endpoint_id, "32866729519064");
        assert_eq!(e.username, "callme140703093944");
        assert_eq!(e.alias, "callme");
        assert!(e.sip_registered);
        assert_eq!(
            e.sip_contact.as_deref(),
            Some("sip:callme140703093224@122.172.71.207:57563;ob")
        );
        assert_eq!(e.sip_expires.as_deref(), Some("2022-07-21 19:26:08"));
        assert_eq!(e.sip_user_agent.as_deref(), Some("Telephone 1.1.4"));
        assert_eq!(
            e.sip_uri.as_deref(),
            Some("sip:callme140703093944@phone.plivo.com")
        );
        assert_eq!(e.sub_account, None);
        assert_eq!(
            e.resource_uri.as_deref(),
            Some("/v1/Account/MA2025RK4E639VJFZAGV/Endpoint/32866729519064/")
        );
        assert_eq!(
            e.application,
            Some(Application {
                app_id: Some("33406267401237901".into()),
                app_name: None,
                uri: Some("/v1/Account/MA2025RK4E639VJFZAGV/Application/33406267401237901/".into()),
            })
        );
        assert_eq!(e.allow_voice, None);
        assert_eq!(e.created_at, None);
    }

    #[test]
    fn plivo_list_example() {
        let p = page(&fixture("plivo/list.json"));
        assert_eq!(
            p.api_id.as_deref(),
            Some("30a0c8c2-110c-11e4-bd8a-12313f016a39")
        );
        assert_eq!(
            p.meta,
            PageMeta {
                limit: 20,
                offset: 0,
                total_count: 11,
                next: None,
                previous: None
            }
        );
        assert_eq!(p.objects.len(), 1);
        assert!(p.objects[0].sip_registered);
        assert_eq!(p.objects[0].sip_contact, None);
    }

    #[test]
    fn plivo_create_example() {
        let wire: WireCreated = serde_json::from_str(&fixture("plivo/create.json")).unwrap();
        let created = wire.normalise("zumba", "zumba").unwrap();
        assert_eq!(
            created.username, "zumba131031145958",
            "the platform's suffixed name wins"
        );
        assert_eq!(created.endpoint_id, "37371860103666");
        assert_eq!(
            created.api_id.as_deref(),
            Some("1c13de4c-423d-11e3-9899-22000abfa5d5")
        );
    }

    #[test]
    fn plivo_update_example_is_json() {
        let v: serde_json::Value = serde_json::from_str(&fixture("plivo/update.json")).unwrap();
        assert_eq!(v["message"], "changed");
    }

    #[test]
    fn vobiz_list_example() {
        let p = page(&fixture("vobiz/list.json"));
        assert_eq!(p.meta.total_count, 45);
        let [john, jane] = &p.objects[..] else {
            panic!("two endpoints")
        };
        assert_eq!(
            john.username, "john_doe",
            "read-back values are never checked against create rules"
        );
        assert_eq!(john.alias, "John's Desktop Phone");
        assert!(john.sip_registered);
        assert_eq!(john.sip_contact.as_deref(), Some("192.168.1.100:5060"));
        assert_eq!(
            john.application,
            Some(Application {
                app_id: Some("12345678".into()),
                app_name: Some("Customer Service App".into()),
                uri: None
            })
        );
        assert_eq!(
            [
                john.allow_voice,
                john.allow_message,
                john.allow_video,
                john.allow_same_domain,
                john.allow_other_domains,
                john.allow_phones,
                john.allow_apps
            ],
            [
                Some(true),
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                Some(true),
                Some(true)
            ]
        );
        assert_eq!(john.created_at.as_deref(), Some("2025-10-27T10:30:00Z"));
        assert_eq!(john.updated_at.as_deref(), Some("2025-10-28T09:15:00Z"));
        assert!(!jane.sip_registered);
        assert_eq!(
            (
                jane.sip_contact.as_ref(),
                jane.sip_expires.as_ref(),
                jane.sip_user_agent.as_ref()
            ),
            (None, None, None)
        );
        assert_eq!(jane.application, None);
    }

    #[test]
    fn vobiz_openapi_example() {
        let p = page(&fixture("vobiz/list-openapi.json"));
        assert_eq!(p.objects.len(), 2);
        let app = p.objects[0].application.as_ref().unwrap();
        assert_eq!(app.app_id.as_deref(), Some("12345678901234567"));
        assert!(app.uri.is_some() && app.app_name.is_none());
        assert_eq!(p.objects[1].application, None);
        assert_eq!(p.objects[1].username, "sipuser_demo");
    }

    #[test]
    fn app_ids_come_out_of_uris() {
        assert_eq!(
            app_id_from_uri("/v1/Account/MA2025RK4E639VJFZAGV/Application/33406267401237901/")
                .as_deref(),
            Some("33406267401237901")
        );
        assert_eq!(app_id_from_uri("/v1/Account/MA/Endpoint/1/"), None);
        assert_eq!(app_id_from_uri("33406267401237901"), None);
    }

    #[test]
    fn registration_flags_are_read_tolerantly() {
        let table = [
            (r#""true""#, true),
            (r#""True""#, true),
            (r#""false""#, false),
            ("true", true),
            ("false", false),
            ("1", true),
            ("null", false),
            (r#""maybe""#, false),
        ];
        for (raw, expected) in table {
            let json = format!(r#"{{"endpoint_id":"1","username":"u","sip_registered":{raw}}}"#);
            let wire: WireEndpoint = serde_json::from_str(&json).unwrap();
            assert_eq!(wire.normalise().unwrap().sip_registered, expected, "{raw}");
        }
    }

    #[test]
    fn ids_may_arrive_as_numbers() {
        let p = page(
            r#"{"meta":{"limit":20,"offset":0,"total_count":1,"next":null,"previous":null},
            "objects":[{"endpoint_id":32866729519064,"username":"u1","application":{"app_id":12345678,"app_name":null}}]}"#,
        );
        assert_eq!(p.objects[0].endpoint_id, "32866729519064");
        assert_eq!(
            p.objects[0].application.as_ref().unwrap().app_id.as_deref(),
            Some("12345678")
        );
    }

    #[test]
    fn endpoints_without_id_or_username_are_bad_responses() {
        for json in [
            r#"{"username":"u"}"#,
            r#"{"endpoint_id":"","username":"u"}"#,
            r#"{"endpoint_id":"1"}"#,
        ] {
            let wire: WireEndpoint = serde_json::from_str(json).unwrap();
            assert_eq!(
                wire.normalise().unwrap_err().code,
                crate::error::ErrorCode::BadResponse,
                "{json}"
            );
        }
    }

    #[test]
    fn negative_or_fractional_counts_are_rejected() {
        for meta in [
            r#"{"limit":-1,"offset":0,"total_count":1}"#,
            r#"{"limit":20,"offset":0.5,"total_count":1}"#,
            r#"{"limit":20,"offset":0,"total_count":"1"}"#,
        ] {
            let json = format!(r#"{{"meta":{meta},"objects":[]}}"#);
            assert!(serde_json::from_str::<WirePage>(&json).is_err(), "{meta}");
        }
    }

    #[test]
    fn summary_counts_registration() {
        let p = page(
            r#"{"meta":{"limit":20,"offset":0,"total_count":3},"objects":[
            {"endpoint_id":"1","username":"a","sip_registered":"true"},
            {"endpoint_id":"2","username":"b","sip_registered":"false"},
            {"endpoint_id":"3","username":"c"}]}"#,
        );
        let mut s = EndpointSummary::default();
        s.add(&p.objects);
        assert_eq!(
            s,
            EndpointSummary {
                total: 3,
                registered: 1,
                unregistered: 2
            }
        );
    }

    #[test]
    fn known_fields_match_serde() {
        crate::fields::tests::assert_fields_match(&CreateEndpointRequest {
            username: "u".into(),
            password: "p".into(),
            alias: "a".into(),
            app_id: Some("1".into()),
            allow_voice: Some(true),
            allow_message: Some(true),
            allow_video: Some(true),
            allow_same_domain: Some(true),
            allow_other_domains: Some(true),
            allow_phones: Some(true),
            allow_apps: Some(true),
            sub_account: Some("s".into()),
        });
        crate::fields::tests::assert_fields_match(&UpdateEndpointRequest {
            password: Some("p".into()),
            alias: Some("a".into()),
            app_id: Some("1".into()),
        });
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let create = CreateEndpointRequest {
            username: "u".into(),
            password: "hunter22".into(),
            alias: "a".into(),
            app_id: None,
            allow_voice: None,
            allow_message: None,
            allow_video: None,
            allow_same_domain: None,
            allow_other_domains: None,
            allow_phones: None,
            allow_apps: None,
            sub_account: None,
        };
        assert!(!format!("{create:?}").contains("hunter22"));
        let update = UpdateEndpointRequest {
            password: Some("hunter22".into()),
            ..Default::default()
        };
        assert!(!format!("{update:?}").contains("hunter22"));
        let creds = SipCredentials {
            username: "u".into(),
            password: "hunter22".into(),
        };
        assert!(!format!("{creds:?}").contains("hunter22"));
    }
}
