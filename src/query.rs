//! List queries: camelCase options in, the platform's query parameters out.

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::config::Dialect;
use crate::error::{Error, ErrorCode, Result};

/// A page request and filters for `listEndpoints`, `endpoints` and `summary`.
///
/// Filters are Vobiz features; the Plivo API has none and refuses them with
/// `UNSUPPORTED`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Page size: 1-20 on Plivo, 1-100 on Vobiz (the platform default is 20).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// How many results to skip (default 0).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<f64>,
    /// Vobiz `username__contains`: part of the username (case-sensitive).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_contains: Option<String>,
    /// Vobiz `username__exact`.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_exact: Option<String>,
    /// Vobiz `username__startswith`.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_startswith: Option<String>,
    /// Vobiz `alias__contains`.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_contains: Option<String>,
    /// Vobiz `alias__exact`.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_exact: Option<String>,
    /// Vobiz `application_id__exact`: the numeric id of an application.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id_exact: Option<String>,
    /// Vobiz `application_id__isnull`: `true` for endpoints without an application.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id_isnull: Option<bool>,
    /// Vobiz `sub_account`: the sub-account's Auth ID.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_account: Option<String>,
}

impl crate::fields::KnownFields for ListQuery {
    const FIELDS: &'static [&'static str] = &[
        "limit",
        "offset",
        "usernameContains",
        "usernameExact",
        "usernameStartswith",
        "aliasContains",
        "aliasExact",
        "applicationIdExact",
        "applicationIdIsnull",
        "subAccount",
    ];
}

/// Query parameters in the order they are sent.
pub type WireQuery = Vec<(&'static str, String)>;

fn whole_number(field: &str, value: f64, min: f64, max: f64) -> Result<u32> {
    if value.is_finite() && value.fract() == 0.0 && (min..=max).contains(&value) {
        Ok(value as u32)
    } else {
        Err(Error::new(
            ErrorCode::InvalidQuery,
            format!("`{field}` must be a whole number from {min} to {max}; got {value}."),
        )
        .with_field(field))
    }
}

fn invalid(field: &str, message: String) -> Error {
    Error::new(ErrorCode::InvalidQuery, message).with_field(field)
}

impl ListQuery {
    /// The checked page size, if one was given.
    pub fn page_size(&self, dialect: Dialect) -> Result<Option<u32>> {
        let max = f64::from(dialect.max_page_size());
        self.limit
            .map(|limit| {
                whole_number("limit", limit, 1.0, max).map_err(|mut e| {
                    e.message = format!(
                        "`limit` must be a whole number from 1 to {max} on {}; got {limit}.",
                        dialect.platform()
                    );
                    e
                })
            })
            .transpose()
    }

    /// The checked offset (0 when absent).
    pub fn start(&self) -> Result<u32> {
        self.offset
            .map(|offset| whole_number("offset", offset, 0.0, f64::from(u32::MAX)))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    fn filters(&self) -> [(&'static str, &'static str, Option<String>); 8] {
        [
            (
                "usernameContains",
                "username__contains",
                self.username_contains.clone(),
            ),
            (
                "usernameExact",
                "username__exact",
                self.username_exact.clone(),
            ),
            (
                "usernameStartswith",
                "username__startswith",
                self.username_startswith.clone(),
            ),
            (
                "aliasContains",
                "alias__contains",
                self.alias_contains.clone(),
            ),
            ("aliasExact", "alias__exact", self.alias_exact.clone()),
            (
                "applicationIdExact",
                "application_id__exact",
                self.application_id_exact.clone(),
            ),
            (
                "applicationIdIsnull",
                "application_id__isnull",
                self.application_id_isnull.map(|b| b.to_string()),
            ),
            ("subAccount", "sub_account", self.sub_account.clone()),
        ]
    }

    /// Checks the query and maps it to the platform's parameters, `limit` and `offset`
    /// first, then the filters in the order of the Vobiz reference.
    pub fn to_wire(&self, dialect: Dialect) -> Result<WireQuery> {
        let mut wire = WireQuery::new();
        if let Some(limit) = self.page_size(dialect)? {
            wire.push(("limit", limit.to_string()));
        }
        if self.offset.is_some() {
            wire.push(("offset", self.start()?.to_string()));
        }
        for (field, name, value) in self.filters() {
            let Some(value) = value else { continue };
            if dialect == Dialect::Plivo {
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    format!(
                        "`{field}` is a Vobiz filter; the Plivo API lists endpoints without \
                         filters. Iterate with client.endpoints() and filter in your code."
                    ),
                )
                .with_field(field));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid(
                    field,
                    format!("`{field}` contains control characters."),
                ));
            }
            if field == "applicationIdExact"
                && (value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()))
            {
                return Err(invalid(
                    field,
                    format!(
                        "`applicationIdExact` must be a numeric application id; got {value:?}."
                    ),
                ));
            }
            if field == "subAccount" && value.is_empty() {
                return Err(invalid(
                    field,
                    "`subAccount` is empty; pass a sub-account Auth ID.".into(),
                ));
            }
            wire.push((name, value));
        }
        Ok(wire)
    }

    /// The same query at another offset and page size (used to walk the pages).
    pub fn at(&self, offset: u32, limit: u32) -> Self {
        Self {
            offset: Some(f64::from(offset)),
            limit: Some(f64::from(limit)),
            ..self.clone()
        }
    }
}

/// Encodes query parameters as `application/x-www-form-urlencoded` (RFC 3986 unreserved
/// characters kept, everything else percent-encoded).
pub fn encode(query: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [name, value.as_str()].into_iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for byte in part.bytes() {
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    out.push(byte as char);
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_maps_to_its_wire_name_in_order() {
        let query = ListQuery {
            limit: Some(100.0),
            offset: Some(40.0),
            username_contains: Some("jo".into()),
            username_exact: Some("john".into()),
            username_startswith: Some("j".into()),
            alias_contains: Some("desk".into()),
            alias_exact: Some("Desk 1".into()),
            application_id_exact: Some("12345678".into()),
            application_id_isnull: Some(false),
            sub_account: Some("SA1".into()),
        };
        let wire = query.to_wire(Dialect::Vobiz).unwrap();
        let names: Vec<_> = wire.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "limit",
                "offset",
                "username__contains",
                "username__exact",
                "username__startswith",
                "alias__contains",
                "alias__exact",
                "application_id__exact",
                "application_id__isnull",
                "sub_account"
            ]
        );
        assert_eq!(
            encode(&wire),
            "limit=100&offset=40&username__contains=jo&username__exact=john&username__startswith=j\
             &alias__contains=desk&alias__exact=Desk%201&application_id__exact=12345678\
             &application_id__isnull=false&sub_account=SA1"
        );
    }

    #[test]
    fn known_fields_match_serde() {
        crate::fields::tests::assert_fields_match(&ListQuery {
            limit: Some(1.0),
            offset: Some(1.0),
            username_contains: Some("a".into()),
            username_exact: Some("a".into()),
            username_startswith: Some("a".into()),
            alias_contains: Some("a".into()),
            alias_exact: Some("a".into()),
            application_id_exact: Some("1".into()),
            application_id_isnull: Some(true),
            sub_account: Some("a".into()),
        });
    }

    #[test]
    fn empty_query_sends_nothing() {
        assert!(ListQuery::default()
            .to_wire(Dialect::Plivo)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn limits_depend_on_the_dialect() {
        let table = [
            (Dialect::Plivo, 1.0, true),
            (Dialect::Plivo, 20.0, true),
            (Dialect::Plivo, 21.0, false),
            (Dialect::Plivo, 0.0, false),
            (Dialect::Vobiz, 100.0, true),
            (Dialect::Vobiz, 101.0, false),
            (Dialect::Vobiz, 2.5, false),
            (Dialect::Vobiz, -1.0, false),
            (Dialect::Vobiz, f64::INFINITY, false),
        ];
        for (dialect, limit, ok) in table {
            let q = ListQuery {
                limit: Some(limit),
                ..Default::default()
            };
            let result = q.to_wire(dialect);
            assert_eq!(result.is_ok(), ok, "{dialect:?} {limit}");
            if let Err(e) = result {
                assert_eq!(e.code, ErrorCode::InvalidQuery);
                assert_eq!(e.field.as_deref(), Some("limit"));
                assert!(e.message.contains(dialect.platform()), "{}", e.message);
            }
        }
    }

    #[test]
    fn offsets_are_non_negative_whole_numbers() {
        for (offset, ok) in [
            (0.0, true),
            (1e6, true),
            (-1.0, false),
            (0.5, false),
            (f64::NAN, false),
        ] {
            let q = ListQuery {
                offset: Some(offset),
                ..Default::default()
            };
            assert_eq!(q.to_wire(Dialect::Vobiz).is_ok(), ok, "{offset}");
        }
    }

    #[test]
    fn plivo_refuses_filters() {
        let q = ListQuery {
            alias_contains: Some("desk".into()),
            ..Default::default()
        };
        let e = q.to_wire(Dialect::Plivo).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unsupported);
        assert_eq!(e.field.as_deref(), Some("aliasContains"));
    }

    #[test]
    fn filter_values_are_checked() {
        let bad = [
            ListQuery {
                application_id_exact: Some("abc".into()),
                ..Default::default()
            },
            ListQuery {
                application_id_exact: Some(String::new()),
                ..Default::default()
            },
            ListQuery {
                sub_account: Some(String::new()),
                ..Default::default()
            },
            ListQuery {
                username_contains: Some("a\nb".into()),
                ..Default::default()
            },
        ];
        for q in bad {
            assert_eq!(
                q.to_wire(Dialect::Vobiz).unwrap_err().code,
                ErrorCode::InvalidQuery,
                "{q:?}"
            );
        }
    }

    #[test]
    fn encoding_escapes_reserved_and_unicode() {
        let wire = vec![("a", "x&y=z/ü+".to_string())];
        assert_eq!(encode(&wire), "a=x%26y%3Dz%2F%C3%BC%2B");
    }

    #[test]
    fn at_keeps_filters() {
        let q = ListQuery {
            alias_contains: Some("desk".into()),
            ..Default::default()
        };
        let page = q.at(200, 100);
        assert_eq!(page.alias_contains.as_deref(), Some("desk"));
        assert_eq!(
            page.to_wire(Dialect::Vobiz).unwrap()[..2],
            [("limit", "100".into()), ("offset", "200".into())]
        );
    }
}
