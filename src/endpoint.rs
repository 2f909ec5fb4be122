//! Endpoints: the platforms' wire shapes, read tolerantly in one pass, and the one
//! normalised shape JavaScript gets.
//!
//! Both platforms send `sip_registered` as the string `"true"`/`"false"`; `application`
//! arrives as a URI string (Plivo, some Vobiz responses) or as `{app_id, app_name}`
//! (Vobiz). The MD5 `password` hash the platforms return is never read.
//!
//! A page is read with the pull reader into values borrowed from the body, with no
//! allocation per field, and written out as [`EndpointRows`]: the strings joined and a few
//! cells per endpoint, from which the binding layer builds the normalised objects.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Host, Options};
use crate::json::{self, Event, JsonOut, Reader, Str, Value};
use crate::validate;

/// A string-like value read from a response, kept as it came (nothing is copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text<'a> {
    /// JSON string content as it came (escapes intact), written out as is.
    Raw(Str<'a>),
    /// A number the platform sent where the docs show a string (ids): its digits.
    Digits(&'a str),
    /// A boolean the platform sent where the docs show a string.
    Bool(bool),
    /// A time read from either platform's format, in Unix seconds: written in ISO 8601 UTC.
    Time(i64),
}

impl<'a> Text<'a> {
    /// The text.
    pub fn text(self) -> Cow<'a, str> {
        match self {
            Self::Raw(raw) => raw.text(),
            Self::Digits(digits) => Cow::Borrowed(digits),
            Self::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            Self::Time(seconds) => Cow::Owned(crate::clock::iso_utc(seconds)),
        }
    }
}

/// How a member of an endpoint is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string (`null` when absent).
    Text,
    /// A string, `""` when absent (the alias).
    TextOrEmpty,
    /// A time in either platform's format, written in ISO 8601 UTC (`null` when absent or
    /// unreadable).
    Time,
    /// A boolean (`null` when absent).
    Flag,
    /// A boolean, `false` when absent (`sipRegistered`).
    FlagOrFalse,
    /// A URI or an `{app_id, app_name}` object, written as `{appId, appName, uri}`.
    Application,
}

/// The members of an endpoint: the platform's name (in quotes, as the body has it) and
/// how each is read and written, in the order they are written. One loop reads them and
/// one writes them (`Endpoint` below is their TypeScript declaration).
const MEMBERS: [(&str, Kind); 20] = [
    ("\"endpoint_id\"", Kind::Text),
    ("\"username\"", Kind::Text),
    ("\"alias\"", Kind::TextOrEmpty),
    ("\"sip_uri\"", Kind::Text),
    ("\"sip_registered\"", Kind::FlagOrFalse),
    ("\"sip_contact\"", Kind::Text),
    ("\"sip_expires\"", Kind::Time),
    ("\"sip_user_agent\"", Kind::Text),
    ("\"application\"", Kind::Application),
    ("\"sub_account\"", Kind::Text),
    ("\"resource_uri\"", Kind::Text),
    ("\"allow_voice\"", Kind::Flag),
    ("\"allow_message\"", Kind::Flag),
    ("\"allow_video\"", Kind::Flag),
    ("\"allow_same_domain\"", Kind::Flag),
    ("\"allow_other_domains\"", Kind::Flag),
    ("\"allow_phones\"", Kind::Flag),
    ("\"allow_apps\"", Kind::Flag),
    ("\"created_at\"", Kind::Text),
    ("\"updated_at\"", Kind::Text),
];

/// The names JavaScript gets, by [`MEMBERS`] index: those the binding layer's builder
/// gives the objects.
const NAMES: [&str; 20] = [
    "endpointId",
    "username",
    "alias",
    "sipUri",
    "sipRegistered",
    "sipContact",
    "sipExpires",
    "sipUserAgent",
    "application",
    "subAccount",
    "resourceUri",
    "allowVoice",
    "allowMessage",
    "allowVideo",
    "allowSameDomain",
    "allowOtherDomains",
    "allowPhones",
    "allowApps",
    "createdAt",
    "updatedAt",
];

/// The names of a normalised endpoint's members, in order (for tests of the declarations
/// and of the builder).
pub fn member_names() -> impl Iterator<Item = &'static str> {
    NAMES.into_iter()
}

/// The application, as the platform sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App<'a> {
    Uri(Str<'a>),
    Object {
        app_id: Option<Text<'a>>,
        app_name: Option<Text<'a>>,
    },
}

/// A member's value as read (the application is kept apart: it is the one large value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot<'a> {
    Text(Text<'a>),
    Flag(bool),
}

/// An endpoint read from a response: its members by [`MEMBERS`] index.
struct EndpointValues<'a> {
    slots: [Option<Slot<'a>>; 20],
    application: Option<App<'a>>,
}

impl<'a> EndpointValues<'a> {
    fn text(&self, index: usize) -> Option<Text<'a>> {
        match self.slots[index] {
            Some(Slot::Text(text)) => Some(text),
            _ => None,
        }
    }

    fn registered(&self) -> bool {
        self.slots[4] == Some(Slot::Flag(true))
    }

    /// Adds the normalised endpoint to `rows`.
    fn write(&self, rows: &mut EndpointRows) {
        for ((_, kind), slot) in MEMBERS.iter().zip(&self.slots) {
            match (kind, slot) {
                (Kind::TextOrEmpty | Kind::FlagOrFalse, None) => rows.cells.push(0),
                (Kind::Application, _) => match self.application {
                    Some(app) => {
                        let (app_id, app_name, uri) = match app {
                            App::Uri(uri) => (app_id_from_uri(uri), None, Some(Text::Raw(uri))),
                            App::Object { app_id, app_name } => (app_id, app_name, None),
                        };
                        rows.cells.push(1);
                        rows.push(app_id);
                        rows.push(app_name);
                        rows.push(uri);
                    }
                    None => rows.cells.extend([NONE; 4]),
                },
                (_, None) => rows.cells.push(NONE),
                (_, Some(Slot::Text(text))) => rows.push(Some(*text)),
                (_, Some(Slot::Flag(b))) => rows.cells.push(i32::from(*b)),
            }
        }
    }
}

/// Cells per endpoint in [`EndpointRows::cells`]: one per member (see [`member_names`]),
/// and the application's three strings after its own.
pub const ROW_CELLS: usize = MEMBERS.len() + 3;

/// The cell of a `null`.
pub const NONE: i32 = -1;

/// Normalised endpoints in the form the binding layer builds JavaScript objects from (for
/// a page of them, several times faster than writing JSON text and parsing it): their
/// strings joined, and [`ROW_CELLS`] cells per endpoint, in the order of [`member_names`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRows {
    /// The strings, escapes undone, joined in cell order.
    pub text: String,
    /// Per member: a string's length in UTF-16 code units (its next characters in
    /// `text`), a boolean as 0 or 1, [`NONE`] for `null`; the application is 1 followed
    /// by the cells of its `appId`, `appName` and `uri`, or [`NONE`] and three more.
    pub cells: Vec<i32>,
}

impl EndpointRows {
    fn with_capacity(body: usize) -> Self {
        Self {
            text: String::with_capacity(body / 2),
            cells: Vec::new(),
        }
    }

    /// Endpoints held.
    pub fn len(&self) -> usize {
        self.cells.len() / ROW_CELLS
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The endpoints as JSON text, their strings cut out of [`Self::text`] as the binding
    /// layer's builder cuts them (by UTF-16 lengths): for tests and fuzzing, which check
    /// what the builder gets. `None` when the cells do not fit the text (never for rows the
    /// core wrote).
    pub fn to_json(&self) -> Option<String> {
        let units: Vec<u16> = self.text.encode_utf16().collect();
        let mut at = 0;
        let mut cells = self.cells.iter().copied();
        let mut string = |out: &mut JsonOut, cell: i32| -> Option<()> {
            if cell == NONE {
                out.null();
            } else {
                let end = at + usize::try_from(cell).ok()?;
                out.string(&String::from_utf16(units.get(at..end)?).ok()?);
                at = end;
            }
            Some(())
        };
        let mut out = JsonOut::with_capacity(2 * self.text.len());
        out.open_array();
        for _ in 0..self.len() {
            out.open_object();
            for (name, (_, kind)) in NAMES.iter().zip(MEMBERS) {
                out.name(name);
                let cell = cells.next()?;
                match kind {
                    Kind::Text | Kind::TextOrEmpty | Kind::Time => string(&mut out, cell)?,
                    Kind::Flag | Kind::FlagOrFalse if cell == NONE => {
                        out.null();
                    }
                    Kind::Flag | Kind::FlagOrFalse => {
                        out.bool(cell == 1);
                    }
                    Kind::Application if cell == NONE => {
                        for _ in 0..3 {
                            (cells.next()? == NONE).then_some(())?;
                        }
                        out.null();
                    }
                    Kind::Application => {
                        out.open_object();
                        for key in ["appId", "appName", "uri"] {
                            out.name(key);
                            string(&mut out, cells.next()?)?;
                        }
                        out.close_object();
                    }
                }
            }
            out.close_object();
        }
        out.close_array();
        let whole = cells.next().is_none() && self.cells.len() % ROW_CELLS == 0;
        (whole && at == units.len()).then(|| out.finish())
    }

    /// Adds a string cell.
    #[inline(never)]
    fn push(&mut self, value: Option<Text<'_>>) {
        let Some(value) = value else {
            self.cells.push(NONE);
            return;
        };
        let value = value.text();
        // UTF-16 units: a unit per character that is not a continuation byte, two for
        // those of four bytes.
        let units: usize = if value.is_ascii() {
            value.len()
        } else {
            value
                .bytes()
                .map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
                .sum()
        };
        self.text.push_str(&value);
        self.cells.push(units as i32);
    }
}

/// The TypeScript declaration of a normalised endpoint (what [`MEMBERS`] writes).
#[cfg(all(feature = "typescript", feature = "endpoints"))]
#[allow(dead_code)]
#[derive(tsify::Tsify)]
#[tsify(missing_as_null)]
#[serde(rename_all = "camelCase")]
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
    /// When the registration expires, in ISO 8601 UTC (`2014-07-21T19:26:08Z`) whatever
    /// the platform wrote (Plivo writes UTC without a zone): `new Date(sipExpires)`.
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

/// The application attached to an endpoint, in one shape whatever the platform sent.
#[cfg(all(feature = "typescript", feature = "endpoints"))]
#[allow(dead_code)]
#[derive(tsify::Tsify)]
#[tsify(missing_as_null)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The application id (taken from the URI when the platform sent a URI).
    pub app_id: Option<String>,
    /// The application's name, when the platform sent it.
    pub app_name: Option<String>,
    /// The application's resource URI, when the platform sent it.
    pub uri: Option<String>,
}

/// Pagination details of a list response.
#[cfg(all(feature = "typescript", feature = "endpoints"))]
#[allow(dead_code)]
#[derive(tsify::Tsify)]
#[tsify(missing_as_null)]
#[serde(rename_all = "camelCase")]
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

/// One page of endpoints, as `listEndpoints` returns it.
#[cfg(all(feature = "typescript", feature = "endpoints"))]
#[allow(dead_code)]
#[derive(tsify::Tsify)]
#[tsify(missing_as_null)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPage {
    /// The platform's request id (quote it to support).
    pub api_id: Option<String>,
    /// Pagination details.
    pub meta: PageMeta,
    /// The endpoints on this page.
    pub objects: Vec<Endpoint>,
}

/// A page read from a list response: its endpoints, normalised, and its pagination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRead {
    /// The endpoints (`objects`).
    pub rows: EndpointRows,
    /// `api_id`.
    pub api_id: Option<String>,
    /// `meta.next`.
    pub next: Option<String>,
    /// `meta.previous`.
    pub previous: Option<String>,
    /// `meta.limit`.
    pub limit: u32,
    /// `meta.offset`.
    pub offset: u32,
    /// `meta.total_count`.
    pub total_count: u32,
    /// Endpoints on the page.
    pub count: u32,
    /// Of those, registered.
    pub registered: u32,
}

/// An endpoint read from a retrieve response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRead {
    /// The normalised endpoint (one row).
    pub rows: EndpointRows,
    /// Its username.
    pub username: String,
}

/// What went wrong in a response body: `None` is JSON of an unexpected shape (the
/// message says which), otherwise the JSON fault.
pub type ShapeError = (Option<json::JsonError>, String);

#[cold]
#[inline(never)]
fn shape(what: String) -> ShapeError {
    (None, what)
}

fn json_fault(e: json::JsonError) -> ShapeError {
    (Some(e), String::new())
}

/// A string-like member: strings, numbers and booleans are text; `null` is none.
#[inline(never)]
fn text<'a>(name: &str, value: Event<'a>) -> std::result::Result<Option<Text<'a>>, ShapeError> {
    match value {
        Event::String(s) => Ok(Some(Text::Raw(s))),
        Event::Number(n) => Ok(Some(Text::Digits(n))),
        Event::Bool(b) => Ok(Some(Text::Bool(b))),
        Event::Null => Ok(None),
        Event::Object | Event::Array => Err(shape(text!("`", name, "` is not a string"))),
    }
}

/// `"true"`/`"false"` as the platforms send it, or a real boolean, or 0/1.
#[inline(never)]
fn flag(name: &str, value: Event<'_>) -> std::result::Result<Option<bool>, ShapeError> {
    match value {
        Event::Bool(b) => Ok(Some(b)),
        // What the platforms send, without a copy.
        Event::String(s) if s.raw() == "true" => Ok(Some(true)),
        Event::String(s) if s.raw() == "false" => Ok(Some(false)),
        Event::String(s) => {
            let text = s.text();
            let text = text.trim();
            Ok(Some(
                ["true", "1", "yes"]
                    .iter()
                    .any(|t| text.eq_ignore_ascii_case(t)),
            ))
        }
        Event::Number(n) => Ok(Some(Value::Number(n).as_integer() != Some(0))),
        Event::Null => Ok(None),
        Event::Object | Event::Array => Err(shape(text!("`", name, "` is not a boolean"))),
    }
}

/// `/v1/Account/MA.../Application/33406267401237901/` -> `33406267401237901`. The URI is
/// taken as it came: a `/` escaped as `\/` counts as a `/`.
fn app_id_from_uri(uri: Str<'_>) -> Option<Text<'_>> {
    let mut rest = uri.raw();
    while let Some(shorter) = rest.strip_suffix('/') {
        rest = shorter.strip_suffix('\\').unwrap_or(shorter);
    }
    let (head, id) = rest.rsplit_once('/')?;
    let head = head.strip_suffix('\\').unwrap_or(head);
    (head.ends_with("/Application") && !id.is_empty()).then(|| Text::Raw(Str::checked(id)))
}

fn application<'a>(
    reader: &mut Reader<'a>,
    value: Event<'a>,
) -> std::result::Result<Option<App<'a>>, ShapeError> {
    match value {
        Event::String(uri) if uri.raw().trim().is_empty() => Ok(None),
        Event::String(uri) => Ok(Some(App::Uri(uri))),
        Event::Object => {
            let (mut app_id, mut app_name) = (None, None);
            while let Some(name) = reader.next_member().map_err(json_fault)? {
                let value = reader.next_value().map_err(json_fault)?;
                match &*name.text() {
                    "app_id" => app_id = text("application.app_id", value)?,
                    "app_name" => app_name = text("application.app_name", value)?,
                    _ => reader.skip(value).map_err(json_fault)?,
                }
            }
            Ok(
                (app_id.is_some() || app_name.is_some())
                    .then_some(App::Object { app_id, app_name }),
            )
        }
        Event::Null => Ok(None),
        Event::Array => Err(shape("`application` is an array".into())),
        _ => Err(shape("`application` is neither a URI nor an object".into())),
    }
}

/// The order members came in, learned from the endpoints read so far: a page lists the
/// members of all its endpoints in the same order, so the member expected next is tried
/// first ([`Reader::next_member_is`]) and names are read and searched for only when it is
/// not that one.
struct Order([u8; 32]);

impl Order {
    const UNKNOWN: u8 = u8::MAX;

    fn new() -> Self {
        Self([Self::UNKNOWN; 32])
    }

    /// The member expected at `position`, as an index in [`MEMBERS`].
    fn expected(&self, position: usize) -> Option<usize> {
        let index = usize::from(self.0.get(position).copied().unwrap_or(Self::UNKNOWN));
        (index < MEMBERS.len()).then_some(index)
    }

    fn learn(&mut self, position: usize, index: Option<usize>) {
        if let Some(slot) = self.0.get_mut(position) {
            *slot = index.map_or(Self::UNKNOWN, |i| i as u8);
        }
    }
}

/// The wire name of a member, without its quotes.
fn wire_name(quoted: &str) -> &str {
    quoted.get(1..quoted.len() - 1).unwrap_or_default()
}

/// Reads the members of an endpoint object whose `{` was read.
fn read_endpoint<'a>(
    reader: &mut Reader<'a>,
    order: &mut Order,
) -> std::result::Result<EndpointValues<'a>, ShapeError> {
    let mut values = EndpointValues {
        slots: [None; 20],
        application: None,
    };
    let mut position = 0;
    loop {
        let expected = order.expected(position);
        let index = match expected {
            Some(i) if reader.next_member_is(MEMBERS[i].0.as_bytes()) => Some(i),
            _ => {
                let Some(name) = reader.next_member().map_err(json_fault)? else {
                    break;
                };
                let name = name.text();
                let found = MEMBERS.iter().position(|(wire, _)| wire_name(wire) == name);
                order.learn(position, found);
                match found {
                    Some(i) => Some(i),
                    None => {
                        let value = reader.next_value().map_err(json_fault)?;
                        reader.skip(value).map_err(json_fault)?;
                        position += 1;
                        continue;
                    }
                }
            }
        };
        position += 1;
        let Some(index) = index else { continue };
        let (wire, kind) = MEMBERS[index];
        let name = wire_name(wire);
        let value = reader.next_value().map_err(json_fault)?;
        values.slots[index] = match kind {
            Kind::Text | Kind::TextOrEmpty => text(name, value)?.map(Slot::Text),
            // Plivo writes `2014-07-21 19:26:08` (UTC), Vobiz ISO 8601: one form for both.
            Kind::Time => text(name, value)?
                .and_then(|t| crate::clock::parse_platform_time(&t.text()))
                .map(|seconds| Slot::Text(Text::Time(seconds))),
            Kind::Flag | Kind::FlagOrFalse => flag(name, value)?.map(Slot::Flag),
            Kind::Application => {
                values.application = application(reader, value)?;
                continue;
            }
        };
    }
    let id = values
        .text(0)
        .filter(|id| !id.text().is_empty())
        .ok_or_else(|| shape("an endpoint has no `endpoint_id`".into()))?;
    if values.text(1).is_none() {
        return Err(shape(text!("endpoint ", id.text(), " has no `username`")));
    }
    Ok(values)
}

/// Reads one endpoint (a retrieve response).
pub fn read_endpoint_body(body: &str) -> std::result::Result<EndpointRead, ShapeError> {
    let mut reader = Reader::new(body);
    if reader.next_value().map_err(json_fault)? != Event::Object {
        return Err(shape("the body is not an object".into()));
    }
    let endpoint = read_endpoint(&mut reader, &mut Order::new())?;
    reader.finish().map_err(json_fault)?;
    let mut rows = EndpointRows::with_capacity(body.len());
    endpoint.write(&mut rows);
    Ok(EndpointRead {
        rows,
        username: endpoint
            .text(1)
            .map(|u| u.text().into_owned())
            .unwrap_or_default(),
    })
}

fn count(name: &str, value: Event<'_>) -> std::result::Result<u32, ShapeError> {
    match value {
        Event::Number(n) => Value::Number(n)
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| shape(text!("`meta.", name, "` is not a count (", n, ")"))),
        _ => Err(shape(text!("`meta.", name, "` is not a number"))),
    }
}

/// Pagination details as read.
struct Meta<'a> {
    counts: [Option<u32>; 3],
    next: Option<Text<'a>>,
    previous: Option<Text<'a>>,
}

const META_COUNTS: [&str; 3] = ["limit", "offset", "total_count"];

/// Reads a list response in one pass: `{api_id?, meta: {limit, offset, total_count, next,
/// previous}, objects: [...]}` in any member order.
pub fn read_page(body: &str) -> std::result::Result<PageRead, ShapeError> {
    let mut reader = Reader::new(body);
    if reader.next_value().map_err(json_fault)? != Event::Object {
        return Err(shape("the body is not an object".into()));
    }
    let mut rows = EndpointRows::with_capacity(body.len());
    let (mut api_id, mut meta, mut count_read, mut registered) = (None, None, None, 0);
    while let Some(name) = reader.next_member().map_err(json_fault)? {
        let value = reader.next_value().map_err(json_fault)?;
        match &*name.text() {
            "api_id" => api_id = text("api_id", value)?,
            "meta" => {
                if value != Event::Object {
                    return Err(shape("`meta` is not an object".into()));
                }
                meta = Some(read_meta(&mut reader)?);
            }
            "objects" => {
                if value != Event::Array {
                    return Err(shape("`objects` is not an array".into()));
                }
                let (mut n, mut order) = (0, Order::new());
                while reader.next_item().map_err(json_fault)? {
                    if reader.next_value().map_err(json_fault)? != Event::Object {
                        return Err(shape("an item of `objects` is not an object".into()));
                    }
                    let endpoint = read_endpoint(&mut reader, &mut order)?;
                    registered += u32::from(endpoint.registered());
                    n += 1;
                    endpoint.write(&mut rows);
                }
                count_read = Some(n);
            }
            _ => reader.skip(value).map_err(json_fault)?,
        }
    }
    reader.finish().map_err(json_fault)?;
    let meta = meta.ok_or_else(|| shape("it has no `meta`".into()))?;
    let count = count_read.ok_or_else(|| shape("it has no `objects`".into()))?;
    let mut counts = [0; 3];
    for (name, (value, slot)) in META_COUNTS.iter().zip(meta.counts.iter().zip(&mut counts)) {
        *slot = value.ok_or_else(|| shape(text!("`meta.", name, "` is missing")))?;
    }
    let [limit, offset, total_count] = counts;
    let owned = |text: Option<Text<'_>>| text.map(|t| t.text().into_owned());
    Ok(PageRead {
        rows,
        api_id: owned(api_id),
        next: owned(meta.next),
        previous: owned(meta.previous),
        limit,
        offset,
        total_count,
        count,
        registered,
    })
}

fn read_meta<'a>(reader: &mut Reader<'a>) -> std::result::Result<Meta<'a>, ShapeError> {
    let mut meta = Meta {
        counts: [None; 3],
        next: None,
        previous: None,
    };
    while let Some(name) = reader.next_member().map_err(json_fault)? {
        let value = reader.next_value().map_err(json_fault)?;
        let name = name.text();
        if let Some(i) = META_COUNTS.iter().position(|wire| *wire == name) {
            meta.counts[i] = Some(count(&name, value)?);
        } else if name == "next" {
            meta.next = text("meta.next", value)?;
        } else if name == "previous" {
            meta.previous = text("meta.previous", value)?;
        } else {
            reader.skip(value).map_err(json_fault)?;
        }
    }
    Ok(meta)
}

/// The result of `createEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
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

impl CreatedEndpoint {
    /// Reads a create response in any of the documented shapes, filling what it left out
    /// from the request (Vobiz keeps names as given).
    pub fn read(
        value: &Value<'_>,
        request: &CreateEndpointRequest,
    ) -> std::result::Result<Self, ShapeError> {
        let get = |name: &str| -> Option<String> {
            match value.get(name)? {
                Value::String(s) => Some(s.text().into_owned()),
                Value::Number(n) => Some((*n).to_owned()),
                _ => None,
            }
        };
        Ok(Self {
            endpoint_id: get("endpoint_id")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| shape("the create response has no `endpoint_id`".into()))?,
            username: get("username").unwrap_or_else(|| request.username.clone()),
            alias: get("alias").unwrap_or_else(|| request.alias.clone()),
            sip_uri: get("sip_uri"),
            api_id: get("api_id"),
        })
    }
}

/// Credentials after `rotatePassword`: what a web SDK's `login(username, password)` takes.
/// The password is returned once and never stored.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct SipCredentials {
    /// The endpoint's SIP username.
    pub username: String,
    /// The new password.
    pub password: String,
}

impl fmt::Debug for SipCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Registration counts over all matching endpoints (the dashboard of the Vobiz docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
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
    /// Adds a page's counts.
    pub fn add(&mut self, page: &PageRead) {
        self.total += page.count;
        self.registered += page.registered;
        self.unregistered += page.count - page.registered;
    }
}

/// Fields of `createEndpoint`. The `allow*` flags and `subAccount` are Vobiz options.
#[derive(Clone, PartialEq, Default)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "camelCase")
)]
pub struct CreateEndpointRequest {
    /// 1-25 letters and digits, starting with a letter. Plivo appends 12 digits.
    pub username: String,
    /// At least 5 characters.
    pub password: String,
    /// Letters, digits, hyphens and underscores.
    pub alias: String,
    /// Id of the application to attach.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub app_id: Option<String>,
    /// Vobiz: allow voice calls.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_voice: Option<bool>,
    /// Vobiz: allow messages.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_message: Option<bool>,
    /// Vobiz: allow video.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_video: Option<bool>,
    /// Vobiz: allow calls to the same domain.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_same_domain: Option<bool>,
    /// Vobiz: allow calls to other domains.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_other_domains: Option<bool>,
    /// Vobiz: allow calls to phone numbers.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_phones: Option<bool>,
    /// Vobiz: allow calls to applications.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub allow_apps: Option<bool>,
    /// Vobiz: the sub-account to create the endpoint in.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub sub_account: Option<String>,
}

impl fmt::Debug for CreateEndpointRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateEndpointRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("alias", &self.alias)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// The Vobiz-only flags: (JavaScript name, wire name).
const VOBIZ_FLAGS: [(&str, &str); 7] = [
    ("allowVoice", "allow_voice"),
    ("allowMessage", "allow_message"),
    ("allowVideo", "allow_video"),
    ("allowSameDomain", "allow_same_domain"),
    ("allowOtherDomains", "allow_other_domains"),
    ("allowPhones", "allow_phones"),
    ("allowApps", "allow_apps"),
];

impl CreateEndpointRequest {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &[
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

    /// Reads the fields given to `createEndpoint` (their rules are checked when the
    /// request is built).
    pub fn read<O: Host>(value: Field<O>) -> Result<Self> {
        let o = Options::required(
            value,
            "createEndpoint fields",
            ErrorCode::InvalidArgument,
            Self::FIELDS,
        )?;
        let flags: Vec<Option<bool>> = VOBIZ_FLAGS
            .iter()
            .map(|(name, _)| o.flag(name))
            .collect::<Result<_>>()?;
        Ok(Self {
            username: o.required_text("username")?,
            password: o.required_text("password")?,
            alias: o.required_text("alias")?,
            app_id: o.text("appId")?,
            allow_voice: flags[0],
            allow_message: flags[1],
            allow_video: flags[2],
            allow_same_domain: flags[3],
            allow_other_domains: flags[4],
            allow_phones: flags[5],
            allow_apps: flags[6],
            sub_account: o.text("subAccount")?,
        })
    }

    fn flags(&self) -> [Option<bool>; 7] {
        [
            self.allow_voice,
            self.allow_message,
            self.allow_video,
            self.allow_same_domain,
            self.allow_other_domains,
            self.allow_phones,
            self.allow_apps,
        ]
    }

    /// Checks every field and writes the platform's JSON body (`app_field` is where the
    /// dialect puts the application id; `vobiz` allows the Vobiz-only options).
    pub fn to_body(&self, app_field: &str, vobiz: bool) -> Result<String> {
        validate::username(&self.username)?;
        validate::password(&self.password)?;
        validate::alias(&self.alias)?;
        let mut body = JsonOut::with_capacity(128);
        body.open_object();
        body.name("username").string(&self.username);
        body.name("password").string(&self.password);
        body.name("alias").string(&self.alias);
        if let Some(app_id) = &self.app_id {
            validate::id("appId", app_id)?;
            body.name(app_field).string(app_id);
        }
        for ((field, wire), value) in VOBIZ_FLAGS.iter().zip(self.flags()) {
            if let Some(value) = value {
                require_vobiz(vobiz, field)?;
                body.name(wire).bool(value);
            }
        }
        if let Some(sub_account) = &self.sub_account {
            require_vobiz(vobiz, "subAccount")?;
            validate::id("subAccount", sub_account)?;
            body.name("sub_account").string(sub_account);
        }
        body.close_object();
        Ok(body.finish())
    }
}

fn require_vobiz(vobiz: bool, field: &str) -> Result<()> {
    if vobiz {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::Unsupported,
        text!(
            "`",
            field,
            "` is a Vobiz option; Plivo endpoints take username, password, alias and appId."
        ),
    )
    .with_field(field))
}

/// Fields of `updateEndpoint`; at least one. The username cannot change.
#[derive(Clone, Default, PartialEq)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "camelCase")
)]
pub struct UpdateEndpointRequest {
    /// A new password, at least 5 characters.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub password: Option<String>,
    /// A new alias.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub alias: Option<String>,
    /// Id of the application to attach.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub app_id: Option<String>,
}

impl fmt::Debug for UpdateEndpointRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateEndpointRequest")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("alias", &self.alias)
            .field("app_id", &self.app_id)
            .finish()
    }
}

impl UpdateEndpointRequest {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &["password", "alias", "appId"];

    /// Reads the fields given to `updateEndpoint`.
    pub fn read<O: Host>(value: Field<O>) -> Result<Self> {
        let o = Options::required(
            value,
            "updateEndpoint fields",
            ErrorCode::InvalidArgument,
            Self::FIELDS,
        )?;
        Ok(Self {
            password: o.text("password")?,
            alias: o.text("alias")?,
            app_id: o.text("appId")?,
        })
    }

    /// Checks every field given and writes the platform's JSON body.
    pub fn to_body(&self, app_field: &str) -> Result<String> {
        let mut body = JsonOut::with_capacity(64);
        body.open_object();
        if let Some(password) = &self.password {
            validate::password(password)?;
            body.name("password").string(password);
        }
        if let Some(alias) = &self.alias {
            validate::alias(alias)?;
            body.name("alias").string(alias);
        }
        if let Some(app_id) = &self.app_id {
            validate::id("appId", app_id)?;
            body.name(app_field).string(app_id);
        }
        body.close_object();
        if self.password.is_none() && self.alias.is_none() && self.app_id.is_none() {
            return Err(Error::argument(
                "update",
                "nothing to change; pass password, alias or appId",
            ));
        }
        Ok(body.finish())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fields::tests::arg;
    use serde_json::{json, Value as Json};

    /// The objects `rows` stands for, cut out as the binding layer's builder cuts them
    /// (the browser tests check that one against the real pages).
    pub(crate) fn rows_json(rows: &EndpointRows) -> Vec<Json> {
        serde_json::from_str(&rows.to_json().expect("rows that fit their text")).unwrap()
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The page `listEndpoints` gives for `body`.
    fn page(body: &str) -> (PageRead, Json) {
        let read = read_page(body).unwrap_or_else(|(j, m)| panic!("{j:?} {m}"));
        let value = json!({
            "apiId": read.api_id, "objects": rows_json(&read.rows),
            "meta": {"limit": read.limit, "offset": read.offset, "totalCount": read.total_count,
                "next": read.next, "previous": read.previous},
        });
        (read, value)
    }

    fn endpoint(body: &str) -> Json {
        let read = read_endpoint_body(body).unwrap_or_else(|(j, m)| panic!("{j:?} {m}"));
        let mut rows = rows_json(&read.rows);
        assert_eq!(rows.len(), 1);
        rows.pop().unwrap()
    }

    #[test]
    fn plivo_retrieve_example() {
        let e = endpoint(&fixture("plivo/retrieve.json"));
        assert_eq!(
            e,
            json!({
                "endpointId": "32866729519064", "username": "callme140703093944", "alias": "callme",
                "sipUri": "sip:callme140703093944@phone.plivo.com", "sipRegistered": true,
                "sipContact": "sip:callme140703093224@122.172.71.207:57563;ob",
                "sipExpires": "2022-07-21T19:26:08Z", "sipUserAgent": "Telephone 1.1.4",
                "application": {"appId": "33406267401237901", "appName": null,
                    "uri": "/v1/Account/MA2025RK4E639VJFZAGV/Application/33406267401237901/"},
                "subAccount": null,
                "resourceUri": "/v1/Account/MA2025RK4E639VJFZAGV/Endpoint/32866729519064/",
                "allowVoice": null, "allowMessage": null, "allowVideo": null, "allowSameDomain": null,
                "allowOtherDomains": null, "allowPhones": null, "allowApps": null,
                "createdAt": null, "updatedAt": null
            })
        );
        assert!(e.get("password").is_none(), "the MD5 hash is not passed on");
    }

    #[test]
    fn plivo_list_example() {
        let (read, p) = page(&fixture("plivo/list.json"));
        assert_eq!(p["apiId"], "30a0c8c2-110c-11e4-bd8a-12313f016a39");
        assert_eq!(
            p["meta"],
            json!({"limit": 20, "offset": 0, "totalCount": 11, "next": null, "previous": null})
        );
        assert_eq!((read.limit, read.offset, read.total_count), (20, 0, 11));
        assert_eq!((read.count, read.registered), (1, 1));
        assert_eq!(p["objects"][0]["sipRegistered"], true);
        assert_eq!(p["objects"][0]["sipContact"], Json::Null);
    }

    #[test]
    fn plivo_create_example() {
        let body = fixture("plivo/create.json");
        let value = json::parse(&body).unwrap();
        let request = CreateEndpointRequest {
            username: "zumba".into(),
            alias: "zumba".into(),
            ..Default::default()
        };
        let created = CreatedEndpoint::read(&value, &request).unwrap();
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
    fn vobiz_create_fills_username_and_alias_from_the_request() {
        let body = r#"{"api_id": "a", "message": "created", "endpoint_id": 77, "sip_uri": "sip:alice@x", "resource_uri": "/r"}"#;
        let request = CreateEndpointRequest {
            username: "alice".into(),
            alias: "desk".into(),
            ..Default::default()
        };
        let created = CreatedEndpoint::read(&json::parse(body).unwrap(), &request).unwrap();
        assert_eq!(
            (
                created.endpoint_id.as_str(),
                created.username.as_str(),
                created.alias.as_str()
            ),
            ("77", "alice", "desk")
        );
        assert_eq!(created.sip_uri.as_deref(), Some("sip:alice@x"));
        let none = json::parse(r#"{"message": "created"}"#).unwrap();
        assert!(CreatedEndpoint::read(&none, &request).is_err());
    }

    #[test]
    fn vobiz_list_example() {
        let (read, p) = page(&fixture("vobiz/list.json"));
        assert_eq!(read.total_count, 45);
        let john = &p["objects"][0];
        let jane = &p["objects"][1];
        assert_eq!(
            john["username"], "john_doe",
            "read-back values are never checked against create rules"
        );
        assert_eq!(john["alias"], "John's Desktop Phone");
        assert_eq!(john["sipRegistered"], true);
        assert_eq!(john["sipContact"], "192.168.1.100:5060");
        assert_eq!(
            john["application"],
            json!({"appId": "12345678", "appName": "Customer Service App", "uri": null})
        );
        let flags: Vec<_> = [
            "allowVoice",
            "allowMessage",
            "allowVideo",
            "allowSameDomain",
            "allowOtherDomains",
            "allowPhones",
            "allowApps",
        ]
        .iter()
        .map(|f| john[f].clone())
        .collect();
        assert_eq!(flags, [true, true, false, true, false, true, true]);
        assert_eq!(john["createdAt"], "2025-10-27T10:30:00Z");
        assert_eq!(john["updatedAt"], "2025-10-28T09:15:00Z");
        assert_eq!(jane["sipRegistered"], false);
        assert_eq!(
            (
                &jane["sipContact"],
                &jane["sipExpires"],
                &jane["sipUserAgent"]
            ),
            (&Json::Null, &Json::Null, &Json::Null)
        );
        assert_eq!(jane["application"], Json::Null);
        assert_eq!((read.count, read.registered), (2, 1));
    }

    #[test]
    fn vobiz_openapi_example() {
        let (_, p) = page(&fixture("vobiz/list-openapi.json"));
        let objects = p["objects"].as_array().unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0]["application"]["appId"], "12345678901234567");
        assert!(objects[0]["application"]["uri"].is_string());
        assert_eq!(objects[0]["application"]["appName"], Json::Null);
        assert_eq!(objects[1]["application"], Json::Null);
        assert_eq!(objects[1]["username"], "sipuser_demo");
    }

    #[test]
    fn strings_are_passed_on_exactly() {
        let (_, p) = page(
            r#"{"meta":{"limit":20,"offset":0,"total_count":1},"objects":[
            {"endpoint_id":"1","username":"u\u00e9\"q","alias":"a\\b\/c","application":"\/v1\/Account\/MA1\/Application\/42\/"},
            {"endpoint_id":2,"username":"\ud83d\udcde 📞 ü","sip_user_agent":"Zoiper ©","sip_registered":"true","allow_voice":"false"}]}"#,
        );
        let e = &p["objects"][0];
        assert_eq!(e["username"], "ué\"q");
        assert_eq!(e["alias"], "a\\b/c");
        assert_eq!(e["application"]["appId"], "42");
        assert_eq!(e["application"]["uri"], "/v1/Account/MA1/Application/42/");
        // Characters outside the BMP are two UTF-16 units: the next strings still line up.
        let e = &p["objects"][1];
        assert_eq!(e["endpointId"], "2");
        assert_eq!(e["username"], "📞 📞 ü");
        assert_eq!(e["alias"], "");
        assert_eq!(e["sipUserAgent"], "Zoiper ©");
        assert_eq!(
            (&e["sipRegistered"], &e["allowVoice"]),
            (&json!(true), &json!(false))
        );
        assert_eq!(e["application"], Json::Null);
    }

    #[test]
    fn app_ids_come_out_of_uris() {
        let id = |uri: &str| app_id_from_uri(Str::checked(uri)).map(|t| t.text().into_owned());
        assert_eq!(
            id("/v1/Account/MA2025RK4E639VJFZAGV/Application/33406267401237901/").as_deref(),
            Some("33406267401237901")
        );
        assert_eq!(
            id("\\/v1\\/Account\\/MA1\\/Application\\/42\\/").as_deref(),
            Some("42")
        );
        assert_eq!(id("/v1/Account/MA1/Application/42").as_deref(), Some("42"));
        assert_eq!(id("/v1/Account/MA/Endpoint/1/"), None);
        assert_eq!(id("33406267401237901"), None);
        assert_eq!(id("/Application/"), None);
        assert_eq!(id("/"), None);
        assert_eq!(id(""), None);
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
            ("0", false),
            ("null", false),
            (r#""maybe""#, false),
        ];
        for (raw, expected) in table {
            let body = format!(r#"{{"endpoint_id":"1","username":"u","sip_registered":{raw}}}"#);
            assert_eq!(endpoint(&body)["sipRegistered"], expected, "{raw}");
        }
    }

    #[test]
    fn ids_may_arrive_as_numbers() {
        let (_, p) = page(
            r#"{"meta":{"limit":20,"offset":0,"total_count":1,"next":null,"previous":null},
            "objects":[{"endpoint_id":32866729519064,"username":"u1","application":{"app_id":12345678,"app_name":null}}]}"#,
        );
        assert_eq!(p["objects"][0]["endpointId"], "32866729519064");
        assert_eq!(p["objects"][0]["application"]["appId"], "12345678");
    }

    #[test]
    fn bad_shapes_are_named() {
        for (body, said) in [
            (r#"{"username":"u"}"#, "no `endpoint_id`"),
            (r#"{"endpoint_id":"","username":"u"}"#, "no `endpoint_id`"),
            (r#"{"endpoint_id":"1"}"#, "endpoint 1 has no `username`"),
            (
                r#"{"endpoint_id":"1","username":{"a":1}}"#,
                "`username` is not a string",
            ),
            (
                r#"{"endpoint_id":"1","username":"u","application":[1]}"#,
                "`application` is an array",
            ),
            ("[]", "not an object"),
        ] {
            let (_, message) = read_endpoint_body(body).unwrap_err();
            assert!(message.contains(said), "{body}: {message}");
        }
        for (body, said) in [
            (
                r#"{"meta":{"limit":-1,"offset":0,"total_count":1},"objects":[]}"#,
                "`meta.limit` is not a count",
            ),
            (
                r#"{"meta":{"limit":20,"offset":0.5,"total_count":1},"objects":[]}"#,
                "`meta.offset` is not a count",
            ),
            (
                r#"{"meta":{"limit":20,"offset":0,"total_count":"1"},"objects":[]}"#,
                "`meta.total_count` is not a number",
            ),
            (
                r#"{"meta":{"limit":20,"offset":0},"objects":[]}"#,
                "`meta.total_count` is missing",
            ),
            (
                r#"{"objects": 5, "meta": null}"#,
                "`objects` is not an array",
            ),
            (
                r#"{"meta":{"limit":20,"offset":0,"total_count":1}}"#,
                "no `objects`",
            ),
            (r#"{"objects":[]}"#, "no `meta`"),
            (
                r#"{"meta":{"limit":20,"offset":0,"total_count":1},"objects":[1]}"#,
                "not an object",
            ),
        ] {
            let (_, message) = read_page(body).unwrap_err();
            assert!(message.contains(said), "{body}: {message}");
        }
        let (fault, _) = read_page(r#"{"meta":{"limit":20,"#).unwrap_err();
        assert_eq!(fault, Some(json::JsonError::Truncated));
    }

    #[test]
    fn each_endpoint_reads_the_same_whatever_its_members_order_and_spacing() {
        // The first endpoint teaches an order; the others break it in every way the fast
        // path must notice: another order, spaces, an escaped name, an unknown member,
        // fewer members, and the first order again.
        let items = [
            r#"{"endpoint_id":"1","username":"a","alias":"x","sip_registered":"true"}"#,
            r#"{"username":"b","endpoint_id":"2","sip_registered":"false","alias":"y"}"#,
            r#"{ "endpoint_id" : "3", "username":"c" , "alias":"z","sip_registered":"true" }"#,
            r#"{"endpoint_id":"4","username":"d","alias":"w","sip_registered":"false"}"#,
            r#"{"endpoint_id":"5","extra":{"a":[1,2]},"username":"e","alias":"v"}"#,
            r#"{"endpoint_id":"6","username":"f"}"#,
            r#"{"endpoint_id":"7","username":"g","alias":"u","sip_registered":"true"}"#,
        ];
        let body = format!(
            r#"{{"meta":{{"limit":20,"offset":0,"total_count":7}},"objects":[{}]}}"#,
            items.join(",")
        );
        let (read, value) = page(&body);
        assert_eq!((read.count, read.registered), (7, 3));
        for (item, got) in items.iter().zip(value["objects"].as_array().unwrap()) {
            assert_eq!(&endpoint(item), got, "{item}");
        }
        assert_eq!(value["objects"][3]["username"], "d");
        assert_eq!(value["objects"][5]["alias"], "");
    }

    #[test]
    fn the_summary_adds_pages() {
        let (read, _) = page(
            r#"{"meta":{"limit":20,"offset":0,"total_count":3},"objects":[
            {"endpoint_id":"1","username":"a","sip_registered":"true"},
            {"endpoint_id":"2","username":"b","sip_registered":"false"},
            {"endpoint_id":"3","username":"c"}]}"#,
        );
        let mut s = EndpointSummary::default();
        s.add(&read);
        s.add(&read);
        assert_eq!(
            s,
            EndpointSummary {
                total: 6,
                registered: 2,
                unregistered: 4
            }
        );
    }

    #[test]
    fn create_fields_are_read_then_checked_into_each_dialects_body() {
        let fields = CreateEndpointRequest::read(arg(json!({
            "username": "alice", "password": "secret1", "alias": "desk", "appId": "123",
            "allowVoice": true, "allowVideo": false, "subAccount": "SA1"
        })))
        .unwrap();
        let vobiz: Json =
            serde_json::from_str(&fields.to_body("application", true).unwrap()).unwrap();
        assert_eq!(
            vobiz,
            json!({"username": "alice", "password": "secret1", "alias": "desk", "application": "123",
                   "allow_voice": true, "allow_video": false, "sub_account": "SA1"})
        );
        assert_eq!(
            fields.to_body("app_id", false).unwrap_err().code,
            ErrorCode::Unsupported
        );
        let plain = CreateEndpointRequest {
            allow_voice: None,
            allow_video: None,
            sub_account: None,
            ..fields
        };
        let plivo: Json = serde_json::from_str(&plain.to_body("app_id", false).unwrap()).unwrap();
        assert_eq!(
            plivo,
            json!({"username": "alice", "password": "secret1", "alias": "desk", "app_id": "123"})
        );
        for (value, code) in [
            (
                json!({"username": "1bad", "password": "secret1", "alias": "a"}),
                ErrorCode::InvalidUsername,
            ),
            (
                json!({"username": "abc", "password": "four", "alias": "a"}),
                ErrorCode::InvalidPassword,
            ),
            (
                json!({"username": "abc", "password": "secret", "alias": "a b"}),
                ErrorCode::InvalidAlias,
            ),
            (
                json!({"username": "abc", "password": "secret", "alias": "a", "appId": "../x"}),
                ErrorCode::InvalidId,
            ),
        ] {
            let fields = CreateEndpointRequest::read(arg(value.clone())).unwrap();
            assert_eq!(
                fields.to_body("app_id", false).unwrap_err().code,
                code,
                "{value}"
            );
        }
        for (value, field) in [
            (json!({"username": "abc", "password": "secret"}), "alias"),
            (
                json!({"username": "abc", "password": 918273645, "alias": "a"}),
                "password",
            ),
            (
                json!({"username": "abc", "password": "secret", "alias": "a", "allowVoice": "yes"}),
                "allowVoice",
            ),
            (
                json!({"username": "abc", "password": "secret", "alias": "a", "colour": 1}),
                "colour",
            ),
        ] {
            let e = CreateEndpointRequest::read(arg(value.clone())).unwrap_err();
            assert_eq!(
                (e.code, e.field.as_deref()),
                (ErrorCode::InvalidArgument, Some(field)),
                "{value}"
            );
            assert!(!e.message.contains("918273645"));
        }
    }

    #[test]
    fn updates_need_a_field_and_check_each() {
        let read = |v: Json| {
            UpdateEndpointRequest::read(arg(v))
                .unwrap()
                .to_body("app_id")
        };
        assert_eq!(
            read(json!({})).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            read(json!({"alias": "a b"})).unwrap_err().code,
            ErrorCode::InvalidAlias
        );
        assert_eq!(
            read(json!({"password": "abc"})).unwrap_err().code,
            ErrorCode::InvalidPassword
        );
        assert_eq!(
            read(json!({"alias": "desk-2"})).unwrap(),
            r#"{"alias":"desk-2"}"#
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let create = CreateEndpointRequest {
            username: "u".into(),
            password: "hunter22".into(),
            alias: "a".into(),
            ..Default::default()
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
