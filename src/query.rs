//! List queries: camelCase options in, the platform's query parameters out.

use crate::config::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Host, Options};
use crate::validate;

/// The Vobiz filters: the name JavaScript passes, the parameter sent. The one boolean
/// filter is [`IS_NULL`].
const FILTERS: [(&str, &str); 8] = [
    ("usernameContains", "username__contains"),
    ("usernameExact", "username__exact"),
    ("usernameStartsWith", "username__startswith"),
    ("aliasContains", "alias__contains"),
    ("aliasExact", "alias__exact"),
    ("applicationIdExact", "application_id__exact"),
    ("applicationIdIsNull", "application_id__isnull"),
    ("subAccount", "sub_account"),
];

/// Whether `name` is a query parameter the dialect's endpoint list takes: `limit` and
/// `offset`, and on Vobiz its filters. (The backend handler forwards those only.)
pub fn is_list_parameter(dialect: Dialect, name: &str) -> bool {
    matches!(name, "limit" | "offset")
        || (dialect == Dialect::Vobiz && FILTERS.iter().any(|(_, wire)| *wire == name))
}

/// Index of the boolean filter in [`FILTERS`].
const IS_NULL: usize = 6;

/// A checked page request and its filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Page size.
    pub limit: Option<u32>,
    /// Results to skip.
    pub offset: Option<u32>,
    /// The filters' values by [`FILTERS`] index, as sent (`"true"`/`"false"` for the
    /// boolean one).
    filters: [Option<String>; 8],
}

/// The TypeScript declaration of the query JavaScript passes.
#[cfg(all(feature = "typescript", feature = "endpoints"))]
pub mod declaration {
    /// A page request and filters for `listEndpoints`, `endpoints` and `summary` (the
    /// TypeScript declaration of what [`ListQuery::read`] reads).
    ///
    /// Filters are Vobiz features; the Plivo API has none and refuses them with
    /// `UNSUPPORTED` rather than ignoring them.
    #[allow(dead_code)]
    #[derive(tsify::Tsify)]
    #[serde(rename_all = "camelCase")]
    pub struct ListQuery {
        /// Page size: 1-20 on Plivo, 1-100 on Vobiz (the platform default is 20).
        #[tsify(optional)]
        pub limit: Option<u32>,
        /// How many results to skip (default 0).
        #[tsify(optional)]
        pub offset: Option<u32>,
        /// Vobiz `username__contains`: part of the username (case-sensitive).
        #[tsify(optional)]
        pub username_contains: Option<String>,
        /// Vobiz `username__exact`.
        #[tsify(optional)]
        pub username_exact: Option<String>,
        /// Vobiz `username__startswith`.
        #[tsify(optional)]
        pub username_starts_with: Option<String>,
        /// Vobiz `alias__contains`.
        #[tsify(optional)]
        pub alias_contains: Option<String>,
        /// Vobiz `alias__exact`.
        #[tsify(optional)]
        pub alias_exact: Option<String>,
        /// Vobiz `application_id__exact`: the numeric id of an application.
        #[tsify(optional)]
        pub application_id_exact: Option<String>,
        /// Vobiz `application_id__isnull`: `true` for endpoints without an application.
        #[tsify(optional)]
        pub application_id_is_null: Option<bool>,
        /// Vobiz `sub_account`: the sub-account's Auth ID.
        #[tsify(optional)]
        pub sub_account: Option<String>,
    }
}

/// Query parameters in the order they are sent.
pub type WireQuery = Vec<(&'static str, String)>;

/// Longest filter value sent.
const FILTER_MAX: usize = 256;

impl ListQuery {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &[
        "limit",
        "offset",
        "usernameContains",
        "usernameExact",
        "usernameStartsWith",
        "aliasContains",
        "aliasExact",
        "applicationIdExact",
        "applicationIdIsNull",
        "subAccount",
    ];

    /// Reads a query object (absent: the first page of everything) and checks it for the
    /// dialect.
    pub fn read<O: Host>(value: Field<O>, dialect: Dialect) -> Result<Self> {
        let Some(o) = Options::optional(value, "query", ErrorCode::InvalidQuery, Self::FIELDS)?
        else {
            return Ok(Self::default());
        };
        let mut query = Self {
            limit: o
                .number("limit")?
                .map(|n| page_size(n, dialect))
                .transpose()?,
            offset: o.whole("offset", 0, i64::from(u32::MAX))?.map(|n| n as u32),
            filters: Default::default(),
        };
        for (i, (name, _)) in FILTERS.iter().enumerate() {
            query.filters[i] = if i == IS_NULL {
                o.flag(name)?
                    .map(|b| if b { "true" } else { "false" }.to_owned())
            } else {
                o.text(name)?
            };
        }
        query.check(dialect)?;
        Ok(query)
    }

    /// The value of a filter by its JavaScript name, as it will be sent.
    pub fn filter(&self, name: &str) -> Option<&str> {
        let i = FILTERS.iter().position(|(n, _)| *n == name)?;
        self.filters[i].as_deref()
    }

    /// The rules: filters only on Vobiz, without control characters, a numeric
    /// application id, a non-empty sub-account.
    fn check(&self, dialect: Dialect) -> Result<()> {
        for (i, ((field, _), value)) in FILTERS.iter().zip(&self.filters).enumerate() {
            let Some(value) = value else { continue };
            if dialect == Dialect::Plivo {
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    text!(
                        "`",
                        field,
                        "` is a Vobiz filter; the Plivo API lists endpoints without \
                         filters. Iterate with client.endpoints() and filter in your code."
                    ),
                )
                .with_field(*field));
            }
            let why = if value.chars().any(char::is_control) {
                "contains control characters"
            } else if value.len() > FILTER_MAX {
                "is longer than 256 bytes"
            } else if i == 5 && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())) {
                "must be a numeric application id"
            } else if i == 7 && value.is_empty() {
                "is empty; pass a sub-account Auth ID"
            } else {
                continue;
            };
            return Err(
                Error::new(ErrorCode::InvalidQuery, text!("`", field, "` ", why, "."))
                    .with_field(*field),
            );
        }
        Ok(())
    }

    /// The page size asked for, or the dialect's largest.
    pub fn page_size(&self, dialect: Dialect) -> u32 {
        self.limit.unwrap_or(dialect.max_page_size())
    }

    /// The offset asked for (0 when absent).
    pub fn start(&self) -> u32 {
        self.offset.unwrap_or(0)
    }

    /// The platform's parameters for a checked query: `limit` and `offset` first, then
    /// the filters in the order of the Vobiz reference.
    pub fn to_wire(&self) -> WireQuery {
        let mut wire = WireQuery::new();
        if let Some(limit) = self.limit {
            wire.push(("limit", crate::text::integer(limit.into())));
        }
        if let Some(offset) = self.offset {
            wire.push(("offset", crate::text::integer(offset.into())));
        }
        for ((_, name), value) in FILTERS.iter().zip(&self.filters) {
            if let Some(value) = value {
                wire.push((name, value.clone()));
            }
        }
        wire
    }

    /// The same query at another offset and page size (used to walk the pages).
    pub fn at(&self, offset: u32, limit: u32) -> Self {
        Self {
            offset: Some(offset),
            limit: Some(limit),
            ..self.clone()
        }
    }
}

/// The page-size rule of a dialect.
fn page_size(limit: f64, dialect: Dialect) -> Result<u32> {
    let max = dialect.max_page_size();
    validate::whole(ErrorCode::InvalidQuery, "limit", limit, 1, i64::from(max))
        .map(|n| n as u32)
        .map_err(|_| {
            Error::new(
                ErrorCode::InvalidQuery,
                text!(
                    "`limit` must be a whole number from 1 to ",
                    max,
                    " on ",
                    dialect.platform(),
                    "; got ",
                    validate::describe_number(limit),
                    "."
                ),
            )
            .with_field("limit")
        })
}

/// Encodes query parameters as `application/x-www-form-urlencoded` (RFC 3986 unreserved
/// characters kept, everything else percent-encoded).
pub fn encode(query: &[(&str, String)]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
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
                    out.push(char::from(byte));
                } else {
                    out.push('%');
                    out.push(char::from(HEX[usize::from(byte >> 4)]));
                    out.push(char::from(HEX[usize::from(byte & 15)]));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::tests::arg;
    use serde_json::json;

    fn read(value: serde_json::Value, dialect: Dialect) -> Result<ListQuery> {
        ListQuery::read(arg(value), dialect)
    }

    #[test]
    fn every_filter_maps_to_its_wire_name_in_order() {
        let query = read(
            json!({"limit": 100, "offset": 40, "usernameContains": "jo", "usernameExact": "john",
                "usernameStartsWith": "j", "aliasContains": "desk", "aliasExact": "Desk 1",
                "applicationIdExact": "12345678", "applicationIdIsNull": false, "subAccount": "SA1"}),
            Dialect::Vobiz,
        )
        .unwrap();
        let wire = query.to_wire();
        assert_eq!(
            encode(&wire),
            "limit=100&offset=40&username__contains=jo&username__exact=john&username__startswith=j\
             &alias__contains=desk&alias__exact=Desk%201&application_id__exact=12345678\
             &application_id__isnull=false&sub_account=SA1"
        );
    }

    #[test]
    fn an_absent_query_sends_nothing() {
        for absent in [serde_json::Value::Null, json!({})] {
            assert!(read(absent, Dialect::Plivo).unwrap().to_wire().is_empty());
        }
        assert!(
            ListQuery::read::<serde_json::Value>(Field::Absent, Dialect::Plivo)
                .unwrap()
                .to_wire()
                .is_empty()
        );
    }

    #[test]
    fn limits_depend_on_the_dialect() {
        let table = [
            (Dialect::Plivo, json!(1), true),
            (Dialect::Plivo, json!(20), true),
            (Dialect::Plivo, json!(21), false),
            (Dialect::Plivo, json!(0), false),
            (Dialect::Vobiz, json!(100), true),
            (Dialect::Vobiz, json!(101), false),
            (Dialect::Vobiz, json!(2.5), false),
            (Dialect::Vobiz, json!(-1), false),
            (Dialect::Vobiz, json!(1e300), false),
            (Dialect::Vobiz, json!("20"), false),
        ];
        for (dialect, limit, ok) in table {
            let result = read(json!({ "limit": limit }), dialect);
            assert_eq!(result.is_ok(), ok, "{dialect:?} {limit}");
            if let Err(e) = result {
                assert_eq!(e.code, ErrorCode::InvalidQuery);
                assert_eq!(e.field.as_deref(), Some("limit"));
                if limit.is_number() {
                    assert!(e.message.contains(dialect.platform()), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn offsets_are_non_negative_whole_numbers() {
        for (offset, ok) in [
            (json!(0), true),
            (json!(1_000_000), true),
            (json!(-1), false),
            (json!(0.5), false),
            (json!(1e300), false),
        ] {
            assert_eq!(
                read(json!({ "offset": offset }), Dialect::Vobiz).is_ok(),
                ok,
                "{offset}"
            );
        }
    }

    #[test]
    fn plivo_refuses_filters() {
        let e = read(json!({"aliasContains": "desk"}), Dialect::Plivo).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unsupported);
        assert_eq!(e.field.as_deref(), Some("aliasContains"));
    }

    #[test]
    fn filter_values_and_names_are_checked() {
        for (bad, code) in [
            (
                json!({"applicationIdExact": "abc"}),
                ErrorCode::InvalidQuery,
            ),
            (json!({"applicationIdExact": ""}), ErrorCode::InvalidQuery),
            (json!({"subAccount": ""}), ErrorCode::InvalidQuery),
            (json!({"usernameContains": "a\nb"}), ErrorCode::InvalidQuery),
            (
                json!({"usernameContains": "x".repeat(300)}),
                ErrorCode::InvalidQuery,
            ),
            (json!({"usernameStartswith": "a"}), ErrorCode::InvalidQuery),
            (
                json!({"applicationIdIsNull": "true"}),
                ErrorCode::InvalidQuery,
            ),
        ] {
            assert_eq!(
                read(bad.clone(), Dialect::Vobiz).unwrap_err().code,
                code,
                "{bad}"
            );
        }
        let e = read(json!({"usernameStartswith": "a"}), Dialect::Vobiz).unwrap_err();
        assert!(
            e.message.contains("Did you mean `usernameStartsWith`?"),
            "{}",
            e.message
        );
    }

    #[test]
    fn encoding_escapes_reserved_and_unicode() {
        let wire = vec![("a", "x&y=z/ü+".to_string())];
        assert_eq!(encode(&wire), "a=x%26y%3Dz%2F%C3%BC%2B");
    }

    #[test]
    fn at_keeps_filters() {
        let q = read(json!({"aliasContains": "desk"}), Dialect::Vobiz).unwrap();
        let page = q.at(200, 100);
        assert_eq!(page.filter("aliasContains"), Some("desk"));
        assert_eq!(
            page.to_wire()[..2],
            [("limit", "100".into()), ("offset", "200".into())]
        );
    }
}
