//! Every route of the sandbox, through the real router, in one test binary.

mod common;

#[path = "routes/access.rs"]
mod access;
#[path = "routes/backend.rs"]
mod backend;
#[path = "routes/calls.rs"]
mod calls;
#[path = "routes/faults.rs"]
mod faults;
#[path = "routes/http.rs"]
mod http;
#[path = "routes/plivo.rs"]
mod plivo;
#[path = "routes/registrar.rs"]
mod registrar;
#[path = "routes/signalling.rs"]
mod signalling;
#[path = "routes/tokens.rs"]
mod tokens;
#[path = "routes/vobiz.rs"]
mod vobiz;
