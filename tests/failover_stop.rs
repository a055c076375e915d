//! Failover between real brokers: RabbitMQ first, ActiveMQ second; RabbitMQ is stopped mid-run with
//! `scripts/broker.sh stop rabbitmq` and the client must end up on ActiveMQ, re-subscribed.
//! It stops a broker, so it runs alone: `scripts/test.sh` runs it last (it is ignored by default).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use stomp::*;

fn broker_sh(args: &[&str]) {
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new(format!("{root}/scripts/broker.sh"))
        .args(args)
        .status()
        .expect("run scripts/broker.sh");
    assert!(status.success(), "scripts/broker.sh {args:?} failed");
}

#[test]
#[ignore = "stops RabbitMQ: run alone (scripts/test.sh does)"]
fn a_stopped_broker_fails_over_to_the_next_in_the_list() {
    let rec = Recorder::new();
    let mut o = Options::new()
        .host("127.0.0.1", Broker::RabbitMq.port())
        .host("127.0.0.1", Broker::ActiveMq.port());
    o.vhost = Some("/".into()); // RabbitMQ needs it; ActiveMQ accepts any host
    o.auto_reconnect = true;
    o.heartbeats = (1000, 1000);
    o.reconnect = ReconnectPolicy {
        sleep_initial: 0.1,
        sleep_increase: 0.5,
        sleep_jitter: 0.1,
        sleep_max: 1.0,
        attempts_max: -1,
    };
    let c = Connection::new(o).unwrap();
    c.set_listener("rec", rec.clone());
    c.connect(Some("guest"), Some("guest"), &[], true).unwrap();
    assert!(c.server().unwrap().contains("RabbitMQ"));
    let q = unique_queue("failover");
    c.subscribe(&q, Some("f"), AckMode::Auto, &[]).unwrap();

    broker_sh(&["stop", "rabbitmq"]);
    rec.wait_for(Duration::from_secs(60), "a reconnect", |r| {
        r.events.iter().filter(|e| *e == "connected").count() == 2
    });
    let server = c.server().unwrap();
    assert!(server.contains("ActiveMQ"), "now on {server}");
    // The subscription was made again on ActiveMQ: a message sent there arrives.
    let p = Broker::ActiveMq.connect(Version::V1_2, |_| {});
    p.send(&q, b"on the other broker", None, &[]).unwrap();
    rec.wait_for(Duration::from_secs(10), "the message", |r| {
        r.messages.len() == 1
    });
    assert_eq!(rec.messages()[0].header("subscription"), Some("f"));
    p.disconnect(None, Duration::from_secs(5)).unwrap();
    c.disconnect(None, Duration::from_secs(5)).unwrap();
    broker_sh(&["start", "rabbitmq"]);
}
