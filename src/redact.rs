//! Keeping the account's Auth Token out of what the library reports or relays.
//!
//! A platform (or something posing as one) may echo the credentials it was sent: in an
//! error body, a header, a message. The library never passes them on: the forms a request
//! carries them in are cut out of every answer that may reach a message or be relayed
//! (`createBackendHandler`'s forwarded answers, error bodies read for their words). The
//! forms, for an Auth Token `T` of account `A`: `T` itself, `T` as JSON writes it inside a
//! string (where it has `"`, `\` or `/`), `T` in standard base64, and the HTTP Basic
//! credential `base64("A:T")`.

use std::borrow::Cow;

use crate::config::{ClientConfig, Credentials};

/// What each cut-out form is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The forms of one account's credentials, to cut out of text and bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Redactor {
    forms: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(<redacted>)")
    }
}

impl Redactor {
    /// The forms of `auth_token` (of the account `auth_id`). (Cut with one plain search:
    /// `str::replace` and sorting would add kilobytes to every page's WebAssembly.)
    pub fn new(auth_id: &str, auth_token: &str) -> Self {
        // Inside a JSON string: `\` and `"` escaped, and `/` too where the writer does.
        let mut escaped = String::new();
        let mut solidus = String::new();
        for c in auth_token.chars() {
            if matches!(c, '\\' | '"') {
                escaped.push('\\');
                solidus.push('\\');
            }
            if c == '/' {
                solidus.push('\\');
            }
            escaped.push(c);
            solidus.push(c);
        }
        // The escaped forms first: cutting the token first would leave their escapes.
        let mut forms = vec![
            solidus,
            escaped,
            crate::base64::encode(text!(auth_id, ":", auth_token).as_bytes()),
            crate::base64::encode(auth_token.as_bytes()),
            auth_token.to_owned(),
        ];
        forms.dedup();
        forms.retain(|form| !form.is_empty());
        Self { forms }
    }

    /// The redactor of a configuration that holds credentials (direct mode); `None` in
    /// backend mode, where the page holds none.
    pub fn of(config: &ClientConfig) -> Option<Self> {
        match &config.credentials {
            Credentials::Direct(token) => Some(Self::new(&config.auth_id, token.expose())),
            Credentials::Backend => None,
        }
    }

    /// `text` with every form replaced by [`REDACTED`].
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Forms and their replacement are ASCII: what is left is still UTF-8.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8(bytes).unwrap_or_default()),
        }
    }

    /// `bytes` with every form replaced by [`REDACTED`] (a body need not be UTF-8).
    pub fn bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let mut out = Cow::Borrowed(bytes);
        for form in &self.forms {
            if let Some(replaced) = replace_bytes(&out, form.as_bytes()) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

/// `haystack` with every `needle` replaced by [`REDACTED`], or `None` when there is none.
fn replace_bytes(haystack: &[u8], needle: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while at + needle.len() <= haystack.len() {
        if haystack[at..].starts_with(needle) {
            let out = out.get_or_insert_with(|| Vec::with_capacity(haystack.len()));
            out.extend_from_slice(&haystack[copied..at]);
            out.extend_from_slice(REDACTED.as_bytes());
            at += needle.len();
            copied = at;
        } else {
            at += 1;
        }
    }
    let mut out = out?;
    out.extend_from_slice(&haystack[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "MA1";
    const TOKEN: &str = "s3cr/et\"tok";

    #[test]
    fn every_form_is_cut_from_text() {
        let r = Redactor::new(ID, TOKEN);
        let basic = crate::base64::encode(b"MA1:s3cr/et\"tok");
        let b64 = crate::base64::encode(TOKEN.as_bytes());
        let escaped = r#"s3cr\/et\"tok"#;
        let said =
            text!("token ", TOKEN, ", Basic ", &basic, ", b64 ", &b64, ", json ", escaped, ".");
        assert_eq!(
            r.text(&said),
            "token [redacted], Basic [redacted], b64 [redacted], json [redacted]."
        );
        assert!(matches!(r.text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_form_is_cut_from_bytes_even_when_not_utf8() {
        let r = Redactor::new(ID, "plain-token");
        let mut body = vec![0xff, 0xfe];
        body.extend_from_slice(b"plain-tokenplain-token x plain-token");
        body.push(0x80);
        let cut = r.bytes(&body);
        let mut expected = vec![0xff, 0xfe];
        expected.extend_from_slice(b"[redacted][redacted] x [redacted]");
        expected.push(0x80);
        assert_eq!(&*cut, &expected[..]);
        assert!(matches!(r.bytes(b"clean"), Cow::Borrowed(_)));
        assert_eq!(&*r.bytes(b""), b"");
    }

    #[test]
    fn only_direct_mode_has_a_redactor_and_its_debug_shows_nothing() {
        let r = Redactor::new(ID, TOKEN);
        assert_eq!(format!("{r:?}"), "Redactor(<redacted>)");
    }
}
