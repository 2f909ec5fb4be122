//! The in-memory endpoint store of one platform account, seeded deterministically.

use crate::sip::auth::{ha1, md5_hex};
use crate::Platform;

/// A small deterministic generator (SplitMix64): the same seed gives the same data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A request id in the platforms' UUID style.
    pub fn api_id(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// A fresh request id for a response (`api_id`, `requestId`).
pub fn next_api_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Rng::new(0x5EED_0000 ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D)).api_id()
}

/// An application an endpoint can be attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Numeric id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A SIP registration as the REST routes show it: a client registered over the signalling
/// socket, or a seeded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The registered contact.
    pub contact: String,
    /// When it expires, in the platform's format.
    pub expires: String,
    /// The client's user agent.
    pub user_agent: String,
}

/// The Vobiz permission flags, in wire order.
pub const ALLOW_FLAGS: [&str; 7] = [
    "allow_voice",
    "allow_message",
    "allow_video",
    "allow_same_domain",
    "allow_other_domains",
    "allow_phones",
    "allow_apps",
];

/// One endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The endpoint id.
    pub id: String,
    /// The SIP username.
    pub username: String,
    /// MD5 hex of the password (the platforms return this, never the password).
    pub password_md5: String,
    /// What a password login's digest is checked with, MD5(username:realm:password): the
    /// registrar keeps this, never the password.
    pub ha1: String,
    /// The alias.
    pub alias: String,
    /// The attached application.
    pub app: Option<App>,
    /// The sub-account's auth id.
    pub sub_account: Option<String>,
    /// The registration, while registered.
    pub registration: Option<Registration>,
    /// Vobiz permission flags, in [`ALLOW_FLAGS`] order.
    pub allow: [bool; 7],
    /// Creation time (ISO 8601).
    pub created_at: String,
    /// Last update (ISO 8601).
    pub updated_at: String,
}

/// The applications seeded endpoints are attached to.
pub fn seeded_apps(platform: Platform) -> Vec<App> {
    let ids: [&str; 3] = match platform {
        Platform::Plivo => [
            "33406267401237901",
            "33406267401237902",
            "33406267401237903",
        ],
        Platform::Vobiz => ["12345678", "12345679", "12345680"],
    };
    let names = ["Customer Service App", "Sales Line", "Front Desk"];
    ids.iter()
        .zip(names)
        .map(|(id, name)| App {
            id: (*id).into(),
            name: name.into(),
        })
        .collect()
}

/// Sub-accounts some seeded endpoints belong to.
pub const SUB_ACCOUNTS: [&str; 2] = ["SASANDBOXSUB00000001", "SASANDBOXSUB00000002"];

const FIRST: [&str; 16] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "nina", "oscar", "peggy", "rupert", "sybil",
];
const DEVICES: [&str; 4] = ["desk", "mobile", "softphone", "laptop"];
const AGENTS: [&str; 4] = [
    "Zoiper v5.4.5",
    "Telephone 1.1.4",
    "Linphone 5.2",
    "PlivoWebSDK 2.2",
];

/// All endpoints of one platform account, in creation order.
#[derive(Debug, Clone)]
pub struct Store {
    /// The platform this store imitates.
    pub platform: Platform,
    /// Endpoints in creation order.
    pub records: Vec<Record>,
    next_id: u64,
    rng: Rng,
}

impl Store {
    /// A store with `count` endpoints, `registered_fraction` of them registered.
    pub fn seeded(
        platform: Platform,
        count: usize,
        registered_fraction: f64,
        rng: &mut Rng,
    ) -> Self {
        let mut store = Self {
            rng: Rng::new(rng.next_u64()),
            platform,
            records: Vec::with_capacity(count),
            next_id: match platform {
                Platform::Plivo => 32_866_729_519_064,
                Platform::Vobiz => 147_322_537_258_167,
            },
        };
        let apps = seeded_apps(platform);
        let now = chrono::Utc::now();
        for i in 0..count {
            let first = FIRST[i % FIRST.len()];
            let device = DEVICES[(i / FIRST.len()) % DEVICES.len()];
            let (username, alias) = match platform {
                Platform::Plivo => (
                    format!("{first}{:012}", 260_101_000_000 + i as u64),
                    format!("{first}-{device}"),
                ),
                Platform::Vobiz => {
                    let mut name = first.to_owned();
                    name[..1].make_ascii_uppercase();
                    (
                        format!("{first}_{i:04}"),
                        format!("{name}'s {device} phone"),
                    )
                }
            };
            let app = (i % 2 == 0).then(|| apps[(i / 2) % apps.len()].clone());
            let sub_account = (i % 5 == 4).then(|| SUB_ACCOUNTS[(i / 5) % 2].to_owned());
            let registration = (rng.unit() < registered_fraction).then(|| {
                let expires = now + chrono::Duration::seconds(600 + rng.below(3000) as i64);
                Registration {
                    contact: match platform {
                        Platform::Plivo => {
                            format!("sip:{username}@198.51.100.{}:5060;ob", 1 + rng.below(250))
                        }
                        Platform::Vobiz => format!("192.168.1.{}:5060", 1 + rng.below(250)),
                    },
                    expires: format_time(platform, expires),
                    user_agent: AGENTS[rng.below(AGENTS.len() as u64) as usize].to_owned(),
                }
            });
            let created = now - chrono::Duration::minutes((count - i) as i64 * 7);
            let password = format!("seed-password-{i}");
            let stamp = created.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let record = Record {
                id: store.take_id(),
                ha1: ha1(&username, &password),
                username,
                password_md5: md5_hex(&password),
                alias,
                app,
                sub_account,
                registration,
                allow: [true, true, i % 3 != 0, true, i % 4 == 0, true, true],
                created_at: stamp.clone(),
                updated_at: stamp,
            };
            store.records.push(record);
        }
        store
    }

    /// A fresh endpoint id, increasing.
    pub fn take_id(&mut self) -> String {
        self.next_id += 1 + self.rng.below(97);
        self.next_id.to_string()
    }

    /// The endpoint with this id.
    pub fn get(&self, id: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.id == id)
    }

    /// The endpoint with this id, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.id == id)
    }

    /// Removes an endpoint; false when there was none.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.records.len();
        self.records.retain(|r| r.id != id);
        self.records.len() != before
    }

    /// True when a username is taken.
    pub fn username_taken(&self, username: &str) -> bool {
        self.records.iter().any(|r| r.username == username)
    }
}

/// Formats a time as the platform does: Plivo `2022-07-21 19:26:08`, Vobiz ISO 8601.
pub fn format_time(platform: Platform, time: chrono::DateTime<chrono::Utc>) -> String {
    match platform {
        Platform::Plivo => time.format("%Y-%m-%d %H:%M:%S").to_string(),
        Platform::Vobiz => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_unique() {
        let a = Store::seeded(Platform::Plivo, 300, 0.4, &mut Rng::new(7));
        let b = Store::seeded(Platform::Plivo, 300, 0.4, &mut Rng::new(7));
        assert_eq!(
            a.records.iter().map(|r| &r.id).collect::<Vec<_>>(),
            b.records.iter().map(|r| &r.id).collect::<Vec<_>>()
        );
        let mut ids: Vec<_> = a.records.iter().map(|r| r.id.clone()).collect();
        ids.dedup();
        assert_eq!(
            ids.len(),
            300,
            "ids increase, so dedup finds every duplicate"
        );
        let mut names: Vec<_> = a.records.iter().map(|r| r.username.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 300);
    }

    #[test]
    fn registered_fraction_is_roughly_kept() {
        let store = Store::seeded(Platform::Vobiz, 2000, 0.25, &mut Rng::new(1));
        let registered = store
            .records
            .iter()
            .filter(|r| r.registration.is_some())
            .count();
        assert!((400..600).contains(&registered), "{registered}");
        let none = Store::seeded(Platform::Vobiz, 50, 0.0, &mut Rng::new(1));
        assert!(none.records.iter().all(|r| r.registration.is_none()));
        let all = Store::seeded(Platform::Vobiz, 50, 1.0, &mut Rng::new(1));
        assert!(all.records.iter().all(|r| r.registration.is_some()));
    }

    #[test]
    fn api_ids_look_like_uuids() {
        let id = Rng::new(3).api_id();
        let parts: Vec<_> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
    }
}
