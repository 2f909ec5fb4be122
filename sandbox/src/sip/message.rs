//! SIP messages as the Plivo browser SDK sends them over its WebSocket: parsed from one
//! frame, built for the answers. No I/O. A server parser of hostile input: every size is
//! bounded, nothing panics, and anything it cannot read is an error the socket answers or
//! closes on.
//!
//! What the SDK sends (`reference/signalling.md`): one message per WebSocket frame, CRLF
//! line ends, no header folding, no compact header names. Compact names are read all the
//! same (RFC 3261 §7.3.3), folded lines are refused.

use std::fmt;

/// The largest frame read (the SDK's REGISTER is about 1 KB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// The most header lines a message may have.
pub const MAX_HEADERS: usize = 64;

/// Why a frame is not a SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Longer than [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// More header lines than [`MAX_HEADERS`].
    TooManyHeaders,
    /// Not `METHOD URI SIP/2.0`.
    RequestLine,
    /// A header line without `:`, with an empty name, or folded onto the line above.
    Header,
    /// No blank line after the headers.
    Unterminated,
    /// A `Content-Length` that is not a number or does not match the body.
    ContentLength,
    /// A response where a request was expected.
    Response,
    /// Not `SIP/2.0 <status> <reason>`.
    StatusLine,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "the message is larger than 16 KB",
            Self::TooManyHeaders => "the message has more than 64 header lines",
            Self::RequestLine => "the first line is not `METHOD URI SIP/2.0`",
            Self::Header => "a header line is not `Name: value`",
            Self::Unterminated => "the headers do not end with an empty line",
            Self::ContentLength => "Content-Length does not match the body",
            Self::Response => "a response where a request was expected",
            Self::StatusLine => "the first line is not `SIP/2.0 STATUS REASON`",
        })
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `REGISTER`, `OPTIONS`, ...
    pub method: String,
    /// The Request-URI as sent.
    pub uri: String,
    /// Header lines in order, names as sent (compact names expanded).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

/// The full name of a compact header name (RFC 3261 §7.3.3), or the name itself.
fn full_name(name: &str) -> &str {
    match name {
        "v" | "V" => "Via",
        "f" | "F" => "From",
        "t" | "T" => "To",
        "i" | "I" => "Call-ID",
        "m" | "M" => "Contact",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "k" | "K" => "Supported",
        other => other,
    }
}

/// Header lines in order, names as sent (compact names expanded), values trimmed.
pub type Lines = Vec<(String, String)>;

/// A frame's start line, header lines (compact names expanded) and body, checked and bounded.
fn parse_head(text: &str) -> Result<(&str, Lines, &str), ParseError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError::TooLarge);
    }
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(ParseError::Unterminated)?;
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        if line.starts_with([' ', '\t']) {
            return Err(ParseError::Header);
        }
        let (name, value) = line.split_once(':').ok_or(ParseError::Header)?;
        let name = name.trim_end();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::Header);
        }
        headers.push((full_name(name).to_owned(), value.trim().to_owned()));
    }
    if let Some(length) = first_of(&headers, "Content-Length") {
        let length: usize = length.parse().map_err(|_| ParseError::ContentLength)?;
        if length != body.len() {
            return Err(ParseError::ContentLength);
        }
    }
    Ok((first, headers, body))
}

fn first_of<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn every<'h>(headers: &'h [(String, String)], name: &'h str) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn cseq_of(headers: &[(String, String)]) -> Option<(u32, &str)> {
    let (number, method) = first_of(headers, "CSeq")?.split_once(' ')?;
    Some((number.trim().parse().ok()?, method.trim()))
}

/// A frame as it goes on the wire: the start line, the header lines but Content-Length,
/// and a Content-Length that is the body's.
fn write_frame(
    f: &mut fmt::Formatter<'_>,
    start: &str,
    headers: &[(String, String)],
    body: &str,
) -> fmt::Result {
    write!(f, "{start}\r\n")?;
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("Content-Length") {
            write!(f, "{name}: {value}\r\n")?;
        }
    }
    write!(f, "Content-Length: {}\r\n\r\n{body}", body.len())
}

/// The edits a proxy makes to a message's header lines.
pub trait Edit {
    /// The header lines.
    fn lines(&mut self) -> &mut Vec<(String, String)>;

    /// Takes every header of this name out.
    fn remove(&mut self, name: &str) {
        self.lines().retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Puts a header first among the headers (a Via, a Record-Route).
    fn put_first(&mut self, name: &str, value: impl Into<String>) {
        self.lines().insert(0, (name.to_owned(), value.into()));
    }

    /// Adds a header after the others.
    fn add(&mut self, name: &str, value: impl Into<String>) {
        self.lines().push((name.to_owned(), value.into()));
    }

    /// Sets a header: its first line replaced, or added.
    fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .lines()
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(line) => line.1 = value,
            None => self.add(name, value),
        }
    }

    /// Takes the first value of a header out (one value of a comma-separated line).
    fn take_first(&mut self, name: &str) -> Option<String> {
        let lines = self.lines();
        let index = lines
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))?;
        let items = split_list(&lines[index].1);
        let first = items.first()?.trim().to_owned();
        if items.len() > 1 {
            let rest = items[1..].join(",").trim().to_owned();
            lines[index].1 = rest;
        } else {
            lines.remove(index);
        }
        Some(first)
    }
}

impl Edit for Request {
    fn lines(&mut self) -> &mut Vec<(String, String)> {
        &mut self.headers
    }
}

impl Edit for Reply {
    fn lines(&mut self) -> &mut Vec<(String, String)> {
        &mut self.headers
    }
}

/// A SIP response a client sent (to a request the sandbox passed on to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status, 100 to 699.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Header lines in order, names as sent (compact names expanded).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// Parses one frame that is a response.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let (first, headers, body) = parse_head(text)?;
        let Some(rest) = first.strip_prefix("SIP/2.0 ") else {
            return Err(ParseError::StatusLine);
        };
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status: u16 = match code.parse() {
            Ok(status) if (100..=699).contains(&status) && code.len() == 3 => status,
            _ => return Err(ParseError::StatusLine),
        };
        if reason.bytes().any(|b| b.is_ascii_control()) {
            return Err(ParseError::StatusLine);
        }
        Ok(Self {
            status,
            reason: reason.to_owned(),
            headers,
            body: body.to_owned(),
        })
    }

    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_of(&self.headers, name)
    }

    /// Every header of this name, in order.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        every(&self.headers, name)
    }

    /// `CSeq`'s number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        cseq_of(&self.headers)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_frame(
            f,
            &format!("SIP/2.0 {} {}", self.status, self.reason),
            &self.headers,
            &self.body,
        )
    }
}

/// One frame a client sent: a request, or a response to one the sandbox passed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A request.
    Request(Request),
    /// A response.
    Reply(Reply),
}

impl Frame {
    /// Parses one frame.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match Request::parse(text) {
            Err(ParseError::Response) => Reply::parse(text).map(Self::Reply),
            other => other.map(Self::Request),
        }
    }
}

impl Request {
    /// Parses one frame that is a request.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() <= MAX_MESSAGE_BYTES && text.starts_with("SIP/2.0 ") {
            return Err(ParseError::Response);
        }
        let (first, headers, body) = parse_head(text)?;
        let mut parts = first.split(' ');
        let (Some(method), Some(uri), Some("SIP/2.0"), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::RequestLine);
        };
        if method.is_empty()
            || !method.bytes().all(|b| b.is_ascii_uppercase())
            || uri.is_empty()
            || uri.bytes().any(|b| b.is_ascii_control())
        {
            return Err(ParseError::RequestLine);
        }
        Ok(Self {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers,
            body: body.to_owned(),
        })
    }

    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first_of(&self.headers, name)
    }

    /// Every header of this name, in order.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        every(&self.headers, name)
    }

    /// `CSeq`'s number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        cseq_of(&self.headers)
    }

    /// Whether the request has what every answer must echo: Via, From, To, Call-ID, CSeq,
    /// each free of control characters (an answer never carries one a client sent).
    pub fn is_answerable(&self) -> bool {
        ECHOED.iter().all(|name| {
            let mut values = self.all(name).peekable();
            values.peek().is_some() && values.all(|v| !has_control(v))
        }) && self.cseq().is_some()
    }

    /// The first header whose value holds a control character (a lone CR or LF, NUL, ESC,
    /// DEL...; a tab is allowed, RFC 3261 25.1): such a request gets 400, and the value is
    /// never stored or echoed.
    pub fn control_character(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(_, value)| has_control(value))
            .map(|(name, _)| name.as_str())
    }

    /// Every Contact of the request (RFC 3261 20.10: several headers, or several values in
    /// one separated by commas), or the error to answer 400 with.
    pub fn contacts(&self) -> Result<Contacts, &'static str> {
        let mut list = Vec::new();
        let mut star = false;
        for value in self.all("Contact") {
            for item in split_list(value) {
                let item = item.trim();
                if item == "*" {
                    star = true;
                } else if item.is_empty() {
                    return Err("an empty Contact");
                } else {
                    let uri = addr_uri(item);
                    if !(uri.starts_with("sip:") || uri.starts_with("sips:"))
                        || uri.contains(['<', '>', '"', ' ', ','])
                    {
                        return Err("a Contact that is not a SIP URI");
                    }
                    list.push(Contact {
                        uri: uri.to_owned(),
                        expires: match param(item, "expires") {
                            Some(e) => Some(
                                delta_seconds(e)
                                    .ok_or("a Contact expires that is not a number of seconds")?,
                            ),
                            None => None,
                        },
                        instance: param(item, "+sip.instance").map(str::to_owned),
                    });
                }
                if list.len() + usize::from(star) > MAX_CONTACTS {
                    return Err("more Contacts than the registrar takes at once");
                }
            }
        }
        match (star, list.is_empty()) {
            (false, true) => Ok(Contacts::Query),
            (false, false) => Ok(Contacts::List(list)),
            (true, true) => Ok(Contacts::All),
            (true, false) => Err("Contact: * with other Contacts"),
        }
    }
}

impl fmt::Display for Request {
    /// The request as a frame (compact header names expanded, Content-Length the body's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_frame(
            f,
            &format!("{} {} SIP/2.0", self.method, self.uri),
            &self.headers,
            &self.body,
        )
    }
}

/// The headers every answer echoes.
const ECHOED: [&str; 5] = ["Via", "From", "To", "Call-ID", "CSeq"];

/// The most Contacts one REGISTER may carry.
pub const MAX_CONTACTS: usize = 16;

fn has_control(value: &str) -> bool {
    value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// The items of a comma-separated header value, commas inside quotes or `<...>` kept.
fn split_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut bracketed) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' if !bracketed => quoted = !quoted,
            '<' if !quoted => bracketed = true,
            '>' if !quoted => bracketed = false,
            ',' if !quoted && !bracketed => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
}

/// A delta-seconds value (RFC 3261 25.1: digits only), those past 2^32 - 1 read as that
/// (RFC 3261 20.19); `None` for anything else (a sign, a fraction, letters).
pub fn delta_seconds(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros do not count; more than ten digits is past 2^32 - 1 whatever they are.
    let digits = text.trim_start_matches('0');
    if digits.len() > 10 {
        return Some(u32::MAX);
    }
    Some(
        digits
            .parse::<u64>()
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    )
}

/// The Contacts of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// None: the client asks which bindings its address has (RFC 3261 10.2.3).
    Query,
    /// `Contact: *`: every binding of the address, with `Expires: 0` (10.2.2).
    All,
    /// These contacts, to add, refresh or remove.
    List(Vec<Contact>),
}

/// One Contact of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The URI.
    pub uri: String,
    /// Its own `expires` parameter.
    pub expires: Option<u32>,
    /// Its `+sip.instance` (RFC 5626), quotes taken off.
    pub instance: Option<String>,
}

/// The URI inside a name-addr (`"Name" <sip:user@host>;tag=x`) or an addr-spec
/// (`sip:user@host;tag=x`).
pub fn addr_uri(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// The user part of a SIP URI (`sip:user@host;params` gives `user`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let (user, _) = rest.split_once('@')?;
    (!user.is_empty()).then_some(user)
}

/// A parameter of a header value after its address (`;expires=120`), outside `<...>` and
/// quotes; `Some("")` for a flag parameter.
pub fn param<'v>(value: &'v str, name: &str) -> Option<&'v str> {
    let after = match value.find('>') {
        Some(close) if value.find('<').is_some_and(|open| open < close) => &value[close + 1..],
        _ => value,
    };
    after.split(';').skip(1).find_map(|p| {
        let (key, v) = p.split_once('=').unwrap_or((p, ""));
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The parameters of a `Digest` credential or challenge: `Digest a="b", c=d`.
pub fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim().strip_prefix("Digest")?.trim_start();
    let mut params = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => match after.find(',') {
                Some(comma) => (&after[..comma], &after[comma..]),
                None => (after, ""),
            },
        };
        params.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        if params.len() > 16 {
            return None;
        }
        rest = next
            .trim_start()
            .strip_prefix(',')
            .unwrap_or(next)
            .trim_start();
    }
    Some(params)
}

/// The user part of the address a header names (`<sip:alice@host>;tag=1` gives `alice`).
pub fn header_user(value: &str) -> Option<&str> {
    uri_user(addr_uri(value))
}

/// A SIP response being built for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    /// An answer to `request` with `status` and `reason`: its Via headers, From, To (with
    /// `to_tag` added when the To has none), Call-ID and CSeq, as RFC 3261 §8.2.6 wants.
    pub fn to(request: &Request, status: u16, reason: &str, to_tag: &str) -> Self {
        let mut headers: Vec<(String, String)> = request
            .all("Via")
            .map(|via| ("Via".to_owned(), via.to_owned()))
            .collect();
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(value) = request.header(name) {
                let value = if name == "To" && param(value, "tag").is_none() {
                    format!("{value};tag={to_tag}")
                } else {
                    value.to_owned()
                };
                headers.push((name.to_owned(), value));
            }
        }
        Self {
            status,
            reason: reason.to_owned(),
            headers,
            body: String::new(),
        }
    }

    /// An answer to `request` that adds no To tag: a proxy's 100 Trying (RFC 3261 8.2.6.1).
    pub fn trying(request: &Request) -> Self {
        let mut trying = Self::to(request, 100, "Trying", "");
        if let (Some(to), Some(line)) = (
            request.header("To"),
            trying.headers.iter_mut().find(|(n, _)| n == "To"),
        ) {
            line.1 = to.to_owned();
        }
        trying
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a plain-text body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self.headers
            .push(("Content-Type".to_owned(), "text/plain".to_owned()));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header of the response, for tests and the log.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0 {} {}\r\n", self.status, self.reason)?;
        for (name, value) in &self.headers {
            write!(f, "{name}: {value}\r\n")?;
        }
        write!(
            f,
            "Server: endpoint-sandbox\r\nContent-Length: {}\r\n\r\n{}",
            self.body.len(),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A REGISTER as the SDK sends it for a token login (signalling.md).
    pub(crate) const REGISTER: &str = "REGISTER sip:phone.plivo.com SIP/2.0\r\n\
Via: SIP/2.0/WS 9k2f3d1m.invalid;branch=z9hG4bK4731239\r\n\
Max-Forwards: 69\r\n\
To: <sip:alice_MA1@phone.plivo.com>\r\n\
From: <sip:alice_MA1@phone.plivo.com>;tag=lq2h1f0v8n\r\n\
Call-ID: 7j3c0l8e2b1fq0gm5o\r\n\
CSeq: 1 REGISTER\r\n\
X-Plivo-Jwt: a.b.c\r\n\
Contact: <sip:r5k8n1tq@9k2f3d1m.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:1b6b0c1e>\";expires=120\r\n\
Expires: 120\r\n\
Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n\
Supported: path,gruu,outbound\r\n\
User-Agent: plivo-browser-sdk 2.2.21\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn the_sdks_register_is_read_whole() {
        let r = Request::parse(REGISTER).unwrap();
        assert_eq!(
            (r.method.as_str(), r.uri.as_str()),
            ("REGISTER", "sip:phone.plivo.com")
        );
        assert_eq!(r.cseq(), Some((1, "REGISTER")));
        assert_eq!(r.header("x-plivo-jwt"), Some("a.b.c"));
        let contact = r.header("Contact").unwrap();
        assert_eq!(
            addr_uri(contact),
            "sip:r5k8n1tq@9k2f3d1m.invalid;transport=ws"
        );
        assert_eq!(param(contact, "expires"), Some("120"));
        assert_eq!(param(contact, "+sip.instance"), Some("<urn:uuid:1b6b0c1e>"));
        assert_eq!(
            uri_user(addr_uri(r.header("From").unwrap())),
            Some("alice_MA1")
        );
        assert_eq!(param(r.header("From").unwrap(), "tag"), Some("lq2h1f0v8n"));
        assert!(r.is_answerable());
    }

    #[test]
    fn answers_echo_the_transaction_and_tag_the_to() {
        let r = Request::parse(REGISTER).unwrap();
        let answer = Response::to(&r, 200, "OK", "s4ndb0x")
            .header(
                "Contact",
                "<sip:r5k8n1tq@9k2f3d1m.invalid;transport=ws>;expires=60",
            )
            .to_string();
        assert!(answer.starts_with(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS 9k2f3d1m.invalid;branch=z9hG4bK4731239\r\n"
        ));
        assert!(answer.contains("\r\nTo: <sip:alice_MA1@phone.plivo.com>;tag=s4ndb0x\r\n"));
        assert!(answer.contains("\r\nCSeq: 1 REGISTER\r\n"));
        assert!(answer.ends_with("Content-Length: 0\r\n\r\n"));
        let ip = Response::to(&r, 200, "OK", "t")
            .body("127.0.0.1")
            .to_string();
        assert!(ip.ends_with("Content-Length: 9\r\n\r\n127.0.0.1"), "{ip}");
    }

    #[test]
    fn compact_names_are_expanded() {
        let r = Request::parse(
            "OPTIONS sip:admin@phone.plivo.com SIP/2.0\r\nv: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:admin@phone.plivo.com>\r\ni: c1\r\nCSeq: 2 OPTIONS\r\nl: 4\r\n\r\npong",
        )
        .unwrap();
        assert!(r.is_answerable());
        assert_eq!(r.body, "pong");
    }

    #[test]
    fn malformed_frames_are_errors_never_panics() {
        let long = format!(
            "REGISTER sip:x SIP/2.0\r\nA: {}\r\n\r\n",
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        let many = format!(
            "REGISTER sip:x SIP/2.0\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        for (frame, error) in [
            ("", ParseError::Unterminated),
            ("REGISTER sip:x SIP/2.0\r\nVia: x", ParseError::Unterminated),
            ("SIP/2.0 200 OK\r\n\r\n", ParseError::Response),
            ("register sip:x SIP/2.0\r\n\r\n", ParseError::RequestLine),
            ("REGISTER sip:x SIP/3.0\r\n\r\n", ParseError::RequestLine),
            ("REGISTER  sip:x SIP/2.0\r\n\r\n", ParseError::RequestLine),
            (
                "REGISTER sip:x SIP/2.0 extra\r\n\r\n",
                ParseError::RequestLine,
            ),
            (
                "REGISTER sip:x SIP/2.0\r\nNo colon\r\n\r\n",
                ParseError::Header,
            ),
            (
                "REGISTER sip:x SIP/2.0\r\n: empty\r\n\r\n",
                ParseError::Header,
            ),
            (
                "REGISTER sip:x SIP/2.0\r\nA: b\r\n folded\r\n\r\n",
                ParseError::Header,
            ),
            (
                "REGISTER sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nabc",
                ParseError::ContentLength,
            ),
            (
                "REGISTER sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
                ParseError::ContentLength,
            ),
            (long.as_str(), ParseError::TooLarge),
            (many.as_str(), ParseError::TooManyHeaders),
        ] {
            assert_eq!(Request::parse(frame), Err(error.clone()), "{frame:?}");
            assert!(!error.to_string().is_empty());
        }
        let unanswerable = Request::parse("OPTIONS sip:x SIP/2.0\r\n\r\n").unwrap();
        assert!(!unanswerable.is_answerable());
    }

    #[test]
    fn delta_seconds_are_digits_and_large_ones_are_the_most() {
        for (text, seconds) in [
            ("0", Some(0)),
            ("000", Some(0)),
            ("120", Some(120)),
            (" 60 ", Some(60)),
            ("4294967295", Some(u32::MAX)),
            ("4294967296", Some(u32::MAX)),
            ("99999999999999999999999", Some(u32::MAX)),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("12a", None),
            ("+5", None),
        ] {
            assert_eq!(delta_seconds(text), seconds, "{text:?}");
        }
    }

    #[test]
    fn contacts_are_every_header_and_every_comma_separated_value() {
        let with = |contacts: &str| {
            Request::parse(&format!(
                "REGISTER sip:phone.plivo.com SIP/2.0\r\n{contacts}Content-Length: 0\r\n\r\n"
            ))
            .unwrap()
            .contacts()
        };
        assert_eq!(with(""), Ok(Contacts::Query));
        assert_eq!(with("Contact: *\r\n"), Ok(Contacts::All));
        let Ok(Contacts::List(list)) = with(
            "Contact: <sip:a@x;transport=ws>;expires=60, \"B, the second\" <sip:b@x>\r\nm: sip:c@x;expires=0\r\n",
        ) else {
            panic!("three contacts");
        };
        let uris: Vec<_> = list.iter().map(|c| (c.uri.as_str(), c.expires)).collect();
        assert_eq!(
            uris,
            [
                ("sip:a@x;transport=ws", Some(60)),
                ("sip:b@x", None),
                ("sip:c@x", Some(0))
            ]
        );
        assert!(with("Contact: *, <sip:a@x>\r\n").is_err(), "* alone");
        assert!(with("Contact: <sip:a@x>;expires=-1\r\n").is_err());
        assert!(with("Contact: <http://a@x>\r\n").is_err());
        assert!(with("Contact: <sip:a@x>,\r\n").is_err(), "an empty item");
        let many = "Contact: <sip:a@x>\r\n".repeat(MAX_CONTACTS + 1);
        assert!(with(&many).is_err());
    }

    #[test]
    fn control_characters_are_found_and_make_a_request_unanswerable_where_echoed() {
        let request = |extra: &str| {
            Request::parse(&format!(
                "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/WS x;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n{extra}\r\n"
            ))
            .unwrap()
        };
        assert_eq!(
            request("User-Agent: ok\tthere\r\n").control_character(),
            None
        );
        for bad in ["\n", "\r", "\u{0}", "\u{1b}[31m", "\u{7f}"] {
            let r = request(&format!("User-Agent: a{bad}b\r\n"));
            assert_eq!(r.control_character(), Some("User-Agent"), "{bad:?}");
            assert!(r.is_answerable(), "a 400 can still be answered");
        }
        let echoed = Request::parse("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/WS x;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\u{1b}\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n").unwrap();
        assert!(!echoed.is_answerable(), "never echoed into an answer");
    }

    #[test]
    fn digest_credentials_are_read_with_and_without_quotes() {
        let params = digest_params(
            "Digest algorithm=MD5, username=\"bob\", realm=\"phone.plivo.com\", nonce=\"n1\", uri=\"sip:phone.plivo.com\", response=\"abc\", qop=auth, cnonce=\"c, 1\", nc=00000001",
        )
        .unwrap();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("username"), Some("bob"));
        assert_eq!(get("qop"), Some("auth"));
        assert_eq!(get("cnonce"), Some("c, 1"));
        assert_eq!(get("nc"), Some("00000001"));
        assert_eq!(get("algorithm"), Some("MD5"));
        assert_eq!(digest_params("Basic abc"), None);
        assert_eq!(digest_params("Digest username=\"unterminated"), None);
        assert_eq!(digest_params("Digest novalue"), None);
    }

    #[test]
    fn addresses_and_users() {
        assert_eq!(addr_uri("\"Alice\" <sip:a@b>;tag=1"), "sip:a@b");
        assert_eq!(addr_uri("sip:a@b;tag=1"), "sip:a@b");
        assert_eq!(uri_user("sip:alice@phone.plivo.com"), Some("alice"));
        assert_eq!(uri_user("sip:phone.plivo.com"), None);
        assert_eq!(uri_user("tel:123"), None);
        assert_eq!(
            param("<sip:a@b;expires=5>;q=1", "expires"),
            None,
            "inside <> is the URI's"
        );
        assert_eq!(param("<sip:a@b>;expires=5", "EXPIRES"), Some("5"));
    }
}
