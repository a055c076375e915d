//! STOMP over TLS against the real brokers' TLS listeners (scripts/broker.sh): RabbitMQ on
//! 127.0.0.1:61614 (asks for a client certificate, checks one that is given), ActiveMQ on :61624
//! and, with a client certificate required, :61625. Certificates come from scripts/certs.sh.
//!
//! The expired-certificate case needs a server presenting an expired certificate, which the brokers
//! (one certificate each) cannot do alongside the good one: `ExpiredTerminatorFixture` is stunnel
//! with that certificate in front of RabbitMQ's plain port.

#![cfg(feature = "tls")]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::*;
use stomp::*;

const T: Duration = Duration::from_secs(10);
/// The connect timeout of the error cases: each must fail well within it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

fn port(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rabbit_tls_port() -> u16 {
    port("STOMP_RABBITMQ_TLS_PORT", 61614)
}
fn amq_tls_port() -> u16 {
    port("STOMP_ACTIVEMQ_TLS_PORT", 61624)
}
fn amq_mtls_port() -> u16 {
    port("STOMP_ACTIVEMQ_MTLS_PORT", 61625)
}

/// The certificate directory, made (idempotently) by scripts/certs.sh.
fn certs() -> PathBuf {
    static MADE: std::sync::Once = std::sync::Once::new();
    let dir = PathBuf::from(
        std::env::var("STOMP_TLS_CERT_DIR").unwrap_or("/var/lib/libstomp-test/certs".into()),
    );
    MADE.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/certs.sh");
        let ok = Process::new("bash")
            .arg(script)
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/certs.sh");
        assert!(ok.success(), "scripts/certs.sh failed");
    });
    dir
}

fn cert(name: &str) -> PathBuf {
    certs().join(name)
}

/// The test CA, no client certificate.
fn ca_only() -> TlsFiles {
    TlsFiles::load(Some(&cert("ca.pem")), None, None).expect("the test CA loads")
}

fn with_client(cert_name: &str, key_name: &str) -> TlsFiles {
    TlsFiles::load(
        Some(&cert("ca.pem")),
        Some(&cert(cert_name)),
        Some(&cert(key_name)),
    )
    .expect("the client certificate loads")
}

fn tls_options(broker: Broker, port: u16, files: TlsFiles, version: Version) -> Options {
    let mut o = Options::new().host_tls("127.0.0.1", port, files);
    o.version = version;
    if broker == Broker::RabbitMq {
        o.vhost = Some("/".into());
    }
    o.connect_timeout = CONNECT_TIMEOUT;
    o.reconnect.attempts_max = 1;
    o
}

fn tls_port(broker: Broker) -> u16 {
    match broker {
        Broker::RabbitMq => rabbit_tls_port(),
        Broker::ActiveMq => amq_tls_port(),
    }
}

/// Connects, expecting a failure of `kind` within the connect timeout; returns its message.
fn connect_fails(o: Options, kind: ErrorKind) -> String {
    let c = Connection::new(o).expect("options are valid");
    let start = Instant::now();
    let e = c
        .connect(login(), passcode(), &[], true)
        .expect_err("the connect must fail");
    let took = start.elapsed();
    assert_eq!(e.kind, kind, "wrong kind; message: {}", e.message);
    assert!(
        took < CONNECT_TIMEOUT,
        "took {took:?}, not within the connect timeout: {}",
        e.message
    );
    e.message
}

/// Sends one message to a fresh queue and reads it back, with a receipt.
fn round_trip(c: &Connection, tag: &str) {
    let q = unique_queue(tag);
    c.subscribe(&q, None, AckMode::Auto, &[]).unwrap();
    let body = format!("over TLS: {tag}");
    c.send(&q, body.as_bytes(), Some("text/plain"), &[("receipt", tag)])
        .unwrap();
    c.wait_receipt(tag, T).unwrap();
    let m = c.receive(T).expect("the message comes back");
    assert_eq!(m.body(), body.as_bytes());
}

#[test]
fn send_and_receive_over_tls_in_every_version_on_both_brokers() {
    for broker in BROKERS {
        for version in VERSIONS {
            let mut o = tls_options(broker, tls_port(broker), ca_only(), version);
            o.receive_queue = 16;
            let c = Connection::new(o).unwrap();
            c.connect(login(), passcode(), &[], true)
                .unwrap_or_else(|e| panic!("{broker:?} {version}: {}", e.message));
            assert_eq!(c.version(), Some(version));
            let s = c.tls_session().expect("a TLS link");
            let v = s.version.to_str().unwrap();
            assert!(v == "TLSv1.3" || v == "TLSv1.2", "{v}");
            assert_ne!(s.cipher_suite.to_str().unwrap(), "unknown");
            round_trip(&c, &format!("{broker:?}-{version}").replace('.', ""));
            c.disconnect(None, T).unwrap();
            assert!(c.tls_session().is_none() || !c.is_connected());
        }
    }
}

#[test]
fn a_host_name_in_the_certificate_is_accepted() {
    // "localhost" is in the server certificate's names, as is 127.0.0.1 (used everywhere else).
    let mut o = Options::new().host_tls("localhost", rabbit_tls_port(), ca_only());
    o.vhost = Some("/".into());
    o.receive_queue = 4;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    round_trip(&c, "by-name");
    c.disconnect(None, T).unwrap();
}

#[test]
fn the_default_tls_applies_to_hosts_added_plainly() {
    let mut o = Broker::ActiveMq.options(Version::V1_2);
    o.hosts[0].port = amq_tls_port();
    o.tls.default = Some(ca_only());
    o.receive_queue = 4;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    assert!(c.tls_session().is_some());
    round_trip(&c, "default-tls");
    c.disconnect(None, T).unwrap();
}

#[test]
fn an_unknown_ca_is_refused() {
    let files = TlsFiles::load(Some(&cert("other-ca.pem")), None, None).unwrap();
    // The system's trust store (the default) does not hold the test CA either.
    let system = TlsFiles::load(None, None, None).expect("the system trust store loads");
    for broker in BROKERS {
        for f in [&files, &system] {
            let o = tls_options(broker, tls_port(broker), f.clone(), Version::V1_2);
            let m = connect_fails(o, ErrorKind::TlsUntrusted);
            assert!(m.contains("trusted CA"), "{m}");
        }
    }
}

#[test]
fn a_wrong_host_name_is_refused() {
    let mut o = tls_options(
        Broker::RabbitMq,
        rabbit_tls_port(),
        ca_only(),
        Version::V1_2,
    );
    o.tls.server_name = Some("wrong.example.invalid".into());
    let m = connect_fails(o, ErrorKind::TlsHostname);
    assert!(m.contains("wrong.example.invalid"), "{m}");
}

#[test]
fn the_server_name_override_accepts_a_certificate_made_for_another_name() {
    // The wrong-host certificate, presented by the terminator fixture, is fine once its name is
    // the one checked.
    let fx = TerminatorFixture::start("wronghost");
    let mut o = tls_options(Broker::RabbitMq, fx.port, ca_only(), Version::V1_2);
    let m = connect_fails(o.clone(), ErrorKind::TlsHostname);
    assert!(m.contains("127.0.0.1"), "{m}");
    o.tls.server_name = Some("wrong.example.invalid".into());
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    c.disconnect(None, T).unwrap();
}

#[test]
fn sni_is_sent_for_names_and_not_for_addresses() {
    // The terminator presents the wrong-host certificate, unless the client names "localhost" in
    // SNI: then the good one (stunnel picks a certificate by SNI).
    let fx = TerminatorFixture::start_with(
        "wronghost",
        &format!(
            "[by-name]\nsni = stomp:localhost\nconnect = 127.0.0.1:{}\ncert = {}\nkey = {}\n",
            Broker::RabbitMq.port(),
            cert("server.pem").display(),
            cert("server.key").display()
        ),
    );
    let mut o = Options::new().host_tls("localhost", fx.port, ca_only());
    o.vhost = Some("/".into());
    o.connect_timeout = CONNECT_TIMEOUT;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true)
        .unwrap_or_else(|e| panic!("SNI localhost: {}", e.message));
    c.disconnect(None, T).unwrap();
    let o = tls_options(Broker::RabbitMq, fx.port, ca_only(), Version::V1_2);
    connect_fails(o, ErrorKind::TlsHostname);
}

#[test]
fn an_expired_certificate_is_refused() {
    let fx = TerminatorFixture::start("expired");
    let o = tls_options(Broker::RabbitMq, fx.port, ca_only(), Version::V1_2);
    let m = connect_fails(o, ErrorKind::TlsExpired);
    assert!(m.contains("validity"), "{m}");
}

#[test]
fn mutual_tls_with_and_without_a_client_certificate() {
    // ActiveMQ's second connector requires one.
    let o = tls_options(Broker::ActiveMq, amq_mtls_port(), ca_only(), Version::V1_2);
    connect_fails(o, ErrorKind::TlsClientCertRefused);
    let mut o = tls_options(
        Broker::ActiveMq,
        amq_mtls_port(),
        with_client("client.pem", "client.key"),
        Version::V1_2,
    );
    o.receive_queue = 4;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    round_trip(&c, "mtls-amq");
    c.disconnect(None, T).unwrap();

    // RabbitMQ checks a certificate that is given: one from an unrelated CA is refused.
    let o = tls_options(
        Broker::RabbitMq,
        rabbit_tls_port(),
        with_client("other-client.pem", "other-client.key"),
        Version::V1_2,
    );
    connect_fails(o, ErrorKind::TlsClientCertRefused);
    let mut o = tls_options(
        Broker::RabbitMq,
        rabbit_tls_port(),
        with_client("client.pem", "client.key"),
        Version::V1_2,
    );
    o.receive_queue = 4;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    round_trip(&c, "mtls-rabbit");
    c.disconnect(None, T).unwrap();
}

#[test]
fn a_plain_broker_on_a_tls_host_and_a_tls_port_dialled_plain_are_told() {
    // RabbitMQ closes the link on a ClientHello; ActiveMQ waits for the end of a frame that never
    // comes, so only the connect timeout ends it (with the same code: the likely cause).
    let o = tls_options(
        Broker::RabbitMq,
        Broker::RabbitMq.port(),
        ca_only(),
        Version::V1_2,
    );
    let m = connect_fails(o, ErrorKind::TlsMismatch);
    assert!(m.contains("plain STOMP port"), "{m}");
    let mut o = tls_options(
        Broker::ActiveMq,
        Broker::ActiveMq.port(),
        ca_only(),
        Version::V1_2,
    );
    o.connect_timeout = Duration::from_millis(1500);
    let c = Connection::new(o).unwrap();
    let start = Instant::now();
    let e = c.connect(login(), passcode(), &[], true).unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(e.kind, ErrorKind::TlsMismatch, "{}", e.message);
    assert!(e.message.contains("plain STOMP port"), "{}", e.message);

    for broker in BROKERS {
        let mut o = broker.options(Version::V1_2);
        o.hosts[0].port = tls_port(broker);
        o.connect_timeout = CONNECT_TIMEOUT;
        o.reconnect.attempts_max = 1;
        let m = connect_fails(o, ErrorKind::TlsMismatch);
        assert!(m.contains("wants TLS"), "{m}");
    }
}

#[test]
fn bad_files_are_reported_when_set_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("libstomp-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nthis is not base64 !!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no PEM here\n").unwrap();
    let missing = dir.join("missing.pem");
    let load = |ca: &Path, c: Option<&Path>, k: Option<&Path>| {
        TlsFiles::load(Some(ca), c, k).expect_err("must fail")
    };
    let ca = cert("ca.pem");
    let cases: Vec<(Error, &Path)> = vec![
        (load(&missing, None, None), &missing),
        (load(&dir, None, None), &dir), // a directory: unreadable as a file
        (load(&garbage, None, None), &garbage),
        (load(&empty, None, None), &empty),
        (
            load(&ca, Some(&missing), Some(&cert("client.key"))),
            &missing,
        ),
        (load(&ca, Some(&cert("client.pem")), Some(&empty)), &empty),
    ];
    for (e, file) in &cases {
        assert_eq!(e.kind, ErrorKind::TlsFile, "{}", e.message);
        assert!(
            e.message.contains(&*file.to_string_lossy()),
            "names {}: {}",
            file.display(),
            e.message
        );
    }
    // A key that is not the certificate's.
    let e = load(&ca, Some(&cert("client.pem")), Some(&cert("server.key")));
    assert_eq!(e.kind, ErrorKind::TlsFile, "{}", e.message);
    // Half a client identity.
    let e = load(&ca, Some(&cert("client.pem")), None);
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failover_between_tls_and_plain_hosts_both_ways() {
    let dead = free_port();
    // A dead TLS host, then a plain one.
    let mut o = Options::new()
        .host_tls("127.0.0.1", dead, ca_only())
        .host("127.0.0.1", Broker::RabbitMq.port());
    o.vhost = Some("/".into());
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    assert!(c.tls_session().is_none(), "the plain host");
    c.disconnect(None, T).unwrap();

    // A dead plain host, then a TLS one.
    let mut o =
        Options::new()
            .host("127.0.0.1", dead)
            .host_tls("127.0.0.1", rabbit_tls_port(), ca_only());
    o.vhost = Some("/".into());
    o.receive_queue = 4;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    assert!(c.tls_session().is_some(), "the TLS host");
    round_trip(&c, "failover-to-tls");
    c.disconnect(None, T).unwrap();
}

#[test]
fn auto_reconnect_over_tls_resubscribes_and_messages_flow_again() {
    let proxy = FaultProxy::start(rabbit_tls_port());
    let rec = Recorder::new();
    let mut o = tls_options(Broker::RabbitMq, proxy.port(), ca_only(), Version::V1_2);
    o.auto_reconnect = true;
    o.reconnect = fast_retry();
    let c = Connection::new(o).unwrap();
    c.set_listener("rec", rec.clone());
    c.connect(login(), passcode(), &[], true).unwrap();
    let q = unique_queue("tls-resub");
    c.subscribe(&q, Some("keep"), AckMode::Auto, &[]).unwrap();
    let sender = Broker::RabbitMq.connect(Version::V1_2, |_| {});
    sender.send(&q, b"before", None, &[]).unwrap();
    rec.wait_for(T, "the first message", |r| r.messages.len() == 1);

    proxy.drop_links();
    rec.wait_for(T, "a reconnect over TLS", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 2
    });
    assert!(c.tls_session().is_some());
    // Held and receipted sends go through the new TLS link too.
    c.send(&q, b"mine", None, &[("receipt", "r-after")])
        .unwrap();
    c.wait_receipt("r-after", T).unwrap();
    sender.send(&q, b"after", None, &[]).unwrap();
    rec.wait_for(T, "messages on the re-made subscription", |r| {
        r.messages.len() == 3
    });
    let bodies: Vec<Vec<u8>> = rec.messages().iter().map(|m| m.body().to_vec()).collect();
    assert!(bodies.contains(&b"after".to_vec()) && bodies.contains(&b"mine".to_vec()));
    assert!(
        rec.messages()[1..]
            .iter()
            .all(|m| m.header("subscription") == Some("keep"))
    );

    // Sends made while reconnecting are held, then go out over the next TLS link.
    let connecting = |r: &Recorded| {
        r.events
            .iter()
            .filter(|e| e.starts_with("connecting"))
            .count()
    };
    proxy.refuse(true);
    proxy.drop_links();
    rec.wait_for(T, "the second drop", |r| {
        r.events.iter().filter(|e| *e == "disconnected").count() == 2
    });
    let attempts = connecting(&rec.state.lock().unwrap());
    c.send(&q, b"held", None, &[("receipt", "r-held")]).unwrap();
    rec.wait_for(T, "a refused attempt", |r| connecting(r) >= attempts + 2);
    proxy.refuse(false);
    c.wait_receipt("r-held", T).unwrap();
    rec.wait_for(T, "the held message", |r| r.messages.len() == 4);
    assert_eq!(rec.messages()[3].body(), b"held");
    assert!(c.tls_session().is_some());
    c.disconnect(None, T).unwrap();
    sender.disconnect(None, T).unwrap();
}

#[test]
fn heartbeats_flow_over_tls_while_a_handler_takes_five_seconds() {
    let mut o = tls_options(
        Broker::RabbitMq,
        rabbit_tls_port(),
        ca_only(),
        Version::V1_2,
    );
    o.heartbeats = (1000, 1000);
    five_second_handler_costs_no_heartbeat(o, "tls-slow5", |_, rec| {
        // The broker's heart-beats of those 10 s are dispatched in order, after the slow messages.
        rec.wait_for(T, "the broker's heart-beats, heard over TLS", |r| {
            r.beats >= 5
        });
    });
}

#[test]
fn the_verification_callback_sees_the_certificate_and_may_refuse() {
    let seen: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let s = seen.clone();
    let mut o = tls_options(
        Broker::RabbitMq,
        rabbit_tls_port(),
        ca_only(),
        Version::V1_2,
    );
    o.tls.verify = Some(Arc::new(move |der: &[u8], host: &str| {
        s.lock().unwrap().push((der.len(), host.to_owned()));
        true
    }));
    let c = Connection::new(o.clone()).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    c.disconnect(None, T).unwrap();
    let server_der = std::fs::read_to_string(cert("server.pem")).unwrap();
    let v = seen.lock().unwrap().clone();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].1, "127.0.0.1");
    assert!(
        v[0].0 > 200 && v[0].0 < server_der.len(),
        "a DER certificate: {v:?}"
    );

    o.tls.verify = Some(Arc::new(|_: &[u8], _: &str| false));
    let m = connect_fails(o.clone(), ErrorKind::TlsUntrusted);
    assert!(m.contains("callback"), "{m}");

    // It never sees a certificate the built-in checks refused.
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    o.tls.verify = Some(Arc::new(move |_: &[u8], _: &str| {
        n.fetch_add(1, Ordering::SeqCst);
        true
    }));
    o.tls.server_name = Some("wrong.example.invalid".into());
    connect_fails(o, ErrorKind::TlsHostname);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn the_dangerous_option_accepts_any_certificate() {
    let files = TlsFiles::load(Some(&cert("other-ca.pem")), None, None).unwrap();
    let mut o = tls_options(Broker::ActiveMq, amq_tls_port(), files, Version::V1_2);
    connect_fails(o.clone(), ErrorKind::TlsUntrusted);
    o.tls.dangerous_no_verify = true;
    let c = Connection::new(o).unwrap();
    c.connect(login(), passcode(), &[], true).unwrap();
    assert!(c.tls_session().is_some());
    c.disconnect(None, T).unwrap();
}

#[test]
fn a_silent_tls_port_is_bounded_by_the_connect_timeout() {
    // A listener that accepts and never answers: the TLS handshake cannot finish.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut o = tls_options(Broker::RabbitMq, port, ca_only(), Version::V1_2);
    o.connect_timeout = Duration::from_millis(700);
    let c = Connection::new(o).unwrap();
    let start = Instant::now();
    let e = c.connect(login(), passcode(), &[], true).unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}: {}", e.message);
    // Silence after a ClientHello is what a plain STOMP port does, so that is the guess.
    assert_eq!(e.kind, ErrorKind::TlsMismatch, "{}", e.message);
    assert!(e.message.contains("in time"), "{}", e.message);
    drop(l);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// stunnel on loopback presenting one of the test certificates (`expired`, `wronghost`) in front of
/// RabbitMQ's plain STOMP port: for certificates a broker with its one good certificate cannot
/// present.
struct TerminatorFixture {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl TerminatorFixture {
    fn start(name: &str) -> TerminatorFixture {
        TerminatorFixture::start_with(name, "")
    }

    /// `start`, with more stunnel configuration after the main service (`stomp`).
    fn start_with(name: &str, extra: &str) -> TerminatorFixture {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "libstomp-stunnel-{}-{}-{}",
            name,
            std::process::id(),
            port
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = 3\n[stomp]\naccept = 127.0.0.1:{port}\n\
                 connect = 127.0.0.1:{upstream}\ncert = {cert}\nkey = {key}\n{extra}",
                upstream = Broker::RabbitMq.port(),
                cert = cert(&format!("{name}.pem")).display(),
                key = cert(&format!("{name}.key")).display(),
            ),
        )
        .unwrap();
        let child = Process::new("stunnel4")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 (apt-get install stunnel4)");
        let fx = TerminatorFixture { child, port, dir };
        // Bounded wait for its listener (it gives no other sign of being ready).
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "stunnel did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        fx
    }
}

impl Drop for TerminatorFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
