//! The sandbox's shared state, below every route: the platforms it imitates, their
//! endpoint stores and registrations ([`Data`], behind one lock), the clock the platform
//! goes by ([`Clock`]), and the state every handler receives ([`AppState`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::faults::{FaultRule, LoggedRequest};
use crate::store::{Rng, Store};
use crate::{backend, sip, store};

/// Which platform a route imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Plivo, under `/v1/Account/{auth_id}/`.
    Plivo,
    /// Vobiz, under `/api/v1/Account/{auth_id}/`.
    Vobiz,
}

impl Platform {
    /// The platform whose error format a path gets.
    pub fn from_path(path: &str) -> Self {
        if path.starts_with("/api/") {
            Self::Vobiz
        } else {
            Self::Plivo
        }
    }

    /// The account's path prefix, ending in `/`.
    pub fn account_path(self, auth_id: &str) -> String {
        match self {
            Self::Plivo => format!("/v1/Account/{auth_id}/"),
            Self::Vobiz => format!("/api/v1/Account/{auth_id}/"),
        }
    }
}

/// The mutable state: both stores, fault rules and the request log.
#[derive(Debug)]
pub struct Data {
    /// The Plivo account's endpoints.
    pub plivo: Store,
    /// The Vobiz account's endpoints.
    pub vobiz: Store,
    /// Active fault rules.
    pub faults: Vec<FaultRule>,
    /// Recent API requests.
    pub log: VecDeque<LoggedRequest>,
    /// Backend sessions: cookie value to user name and expiry.
    pub sessions: std::collections::HashMap<String, backend::Session>,
    /// SIP registrations and the signalling test controls.
    pub registrar: sip::registrar::Registrar,
    /// Calls between the endpoints logged in, and their test controls.
    pub calls: sip::calls::Calls,
}

/// Seed of the generator: the same data on every start.
const RNG_SEED: u64 = 0x00E1_D901_7105_A11D;

impl Data {
    /// Fresh state with `count` endpoints per platform, nothing registered but the seeded
    /// registrations, and the registrar as `config` sets it.
    pub fn seeded(count: usize, registered_fraction: f64, config: &Config) -> Self {
        let mut rng = Rng::new(RNG_SEED);
        Self {
            plivo: Store::seeded(Platform::Plivo, count, registered_fraction, &mut rng),
            vobiz: Store::seeded(Platform::Vobiz, count, registered_fraction, &mut rng),
            faults: Vec::new(),
            log: VecDeque::new(),
            sessions: std::collections::HashMap::new(),
            registrar: sip::registrar::Registrar::new(config.registrar_settings()),
            calls: sip::calls::Calls::default(),
        }
    }

    /// The registration an endpoint shows at `now_ms` (ms since the epoch): a client
    /// registered over the signalling socket, else a seeded one.
    pub fn registration(
        &self,
        platform: Platform,
        record: &store::Record,
        now_ms: i64,
    ) -> Option<store::Registration> {
        self.registrar
            .registration(platform, &record.id, now_ms)
            .or_else(|| record.registration.clone())
    }

    /// The store of a platform.
    pub fn store(&self, platform: Platform) -> &Store {
        match platform {
            Platform::Plivo => &self.plivo,
            Platform::Vobiz => &self.vobiz,
        }
    }

    /// The store of a platform, to change.
    pub fn store_mut(&mut self, platform: Platform) -> &mut Store {
        match platform {
            Platform::Plivo => &mut self.plivo,
            Platform::Vobiz => &mut self.vobiz,
        }
    }
}

/// Configuration and state shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the sandbox started with.
    pub config: Config,
    /// The mutable state.
    pub data: RwLock<Data>,
    /// The time the API routes go by: the system clock, or a fixed instant in tests.
    pub clock: Clock,
    /// The signalling sockets open.
    pub sockets: sip::socket::Sockets,
    /// The SIP log, with a lock of its own.
    pub sip_log: sip::log::SipLog,
}

/// The time the API routes go by (token lifetimes, creation and update times), and the
/// `Date` header of every answer.
#[derive(Debug)]
pub struct Clock {
    /// Always this Unix second (tests that check exact boundaries over HTTP), or the
    /// system clock when `None`.
    fixed: Option<i64>,
    /// Milliseconds added to the system clock: `PUT /__sandbox/clock` sets it, so that a
    /// page on a fake clock (or a test of clock skew) finds the platform where it wants it.
    offset_ms: AtomicI64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self {
            fixed: None,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// Always this Unix second.
    pub fn fixed(unix_seconds: i64) -> Self {
        Self {
            fixed: Some(unix_seconds),
            offset_ms: AtomicI64::new(0),
        }
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match self.fixed {
            Some(seconds) => chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default(),
            None => {
                let offset = self.offset_ms.load(Ordering::Relaxed);
                chrono::Utc::now() + chrono::TimeDelta::milliseconds(offset)
            }
        }
    }

    /// Milliseconds the clock is ahead of the system clock (negative: behind).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock to `offset_ms` from the system clock.
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }
}

/// The state as handlers receive it.
pub type Shared = Arc<AppState>;

impl AppState {
    /// State seeded as the configuration says, on the system clock.
    pub fn new(config: Config) -> Shared {
        Self::with_clock(config, Clock::system())
    }

    /// State seeded as the configuration says, on the given clock.
    pub fn with_clock(config: Config, clock: Clock) -> Shared {
        let data = Data::seeded(config.seed, config.registered_fraction, &config);
        Arc::new(Self {
            data: RwLock::new(data),
            clock,
            sockets: sip::socket::Sockets::new(config.max_sockets),
            sip_log: sip::log::SipLog::new(config.sip_log_bytes),
            config,
        })
    }
}
