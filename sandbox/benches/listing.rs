//! Listing benchmark: walks every page of a 10,000-endpoint account over real HTTP
//! (keep-alive, one connection), and the same walk on a 100-endpoint account as the peer
//! in the same run, so the ratio shows what the size of the store costs per page.
//!
//! Run with `cargo bench -p endpoint-sandbox` (or `cargo xtask bench`).

use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use endpoint_sandbox::config::{DEFAULT_AUTH_ID, DEFAULT_AUTH_TOKEN};
use endpoint_sandbox::{bind, serve, AppState, Config};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Client {
    stream: BufReader<TcpStream>,
    /// Host (the sandbox answers only its own names) and credentials.
    headers: String,
}

impl Client {
    async fn connect(address: std::net::SocketAddr, vobiz: bool) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let credentials = if vobiz {
            format!("x-auth-id: {DEFAULT_AUTH_ID}\r\nx-auth-token: {DEFAULT_AUTH_TOKEN}\r\n")
        } else {
            let pair =
                Base64::encode_string(format!("{DEFAULT_AUTH_ID}:{DEFAULT_AUTH_TOKEN}").as_bytes());
            format!("authorization: Basic {pair}\r\n")
        };
        let headers = format!("host: {address}\r\n{credentials}");
        Self {
            stream: BufReader::new(stream),
            headers,
        }
    }

    /// GETs `uri`; returns the JSON body.
    async fn get(&mut self, uri: &str) -> serde_json::Value {
        let request = format!("GET {uri} HTTP/1.1\r\n{}\r\n", self.headers);
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("read");
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        serde_json::from_slice(&body).expect("json")
    }
}

struct Walk {
    pages: usize,
    endpoints: usize,
    total: Duration,
    per_page: Vec<Duration>,
}

async fn walk(address: std::net::SocketAddr, vobiz: bool, first: &str) -> Walk {
    let mut client = Client::connect(address, vobiz).await;
    let mut uri = first.to_owned();
    let mut walk = Walk {
        pages: 0,
        endpoints: 0,
        total: Duration::ZERO,
        per_page: Vec::new(),
    };
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let page = client.get(&uri).await;
        assert!(page["objects"].is_array(), "{uri} answered {page}");
        walk.per_page.push(t.elapsed());
        walk.pages += 1;
        walk.endpoints += page["objects"].as_array().expect("objects").len();
        match page["meta"]["next"].as_str() {
            Some(next) => uri = next.to_owned(),
            None => break,
        }
    }
    walk.total = started.elapsed();
    walk.per_page.sort();
    walk
}

async fn start(seed: usize) -> std::net::SocketAddr {
    let config = Config {
        port: 0,
        seed,
        ..Config::default()
    };
    let listener = bind(&config).await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(
        listener,
        AppState::new(config),
        std::future::pending(),
    ));
    address
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let big = start(10_000).await;
    let small = start(100).await;
    let id = DEFAULT_AUTH_ID;
    let cases = [
        (
            "Plivo, limit 20",
            false,
            format!("/v1/Account/{id}/Endpoint/?limit=20"),
        ),
        (
            "Vobiz, limit 100",
            true,
            format!("/api/v1/Account/{id}/Endpoint/?limit=100"),
        ),
        (
            "Vobiz, limit 100, alias__contains=desk",
            true,
            format!("/api/v1/Account/{id}/Endpoint/?limit=100&alias__contains=desk"),
        ),
    ];
    println!("listing every page over HTTP (one keep-alive connection); peer: the same walk on 100 endpoints");
    println!(
        "{:<40} {:>9} {:>7} {:>10} {:>11} {:>11} {:>14} {:>7}",
        "walk",
        "endpoints",
        "pages",
        "total ms",
        "p50 µs/page",
        "p99 µs/page",
        "peer p50 µs",
        "ratio"
    );
    for (name, vobiz, uri) in cases {
        // One warm-up walk each, then the measured ones.
        walk(big, vobiz, &uri).await;
        walk(small, vobiz, &uri).await;
        let w = walk(big, vobiz, &uri).await;
        let peer = walk(small, vobiz, &uri).await;
        let p50 = micros(w.per_page[w.pages / 2]);
        let p99 = micros(w.per_page[(w.pages * 99 / 100).min(w.pages - 1)]);
        let peer_p50 = micros(peer.per_page[peer.pages / 2]);
        println!(
            "{name:<40} {:>9} {:>7} {:>10.1} {:>11.0} {:>11.0} {:>14.0} {:>6.2}x",
            w.endpoints,
            w.pages,
            w.total.as_secs_f64() * 1e3,
            p50,
            p99,
            peer_p50,
            p50 / peer_p50
        );
    }
    println!("(the filtered peer serves 25 endpoints a page against 100: compare its total, not its ratio)");
}
