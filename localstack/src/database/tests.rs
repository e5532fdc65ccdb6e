use super::*;
use std::path::Path;

fn cluster(topology: &str) -> DbCluster {
    let text = include_str!("../../stacks/multi-az.yaml");
    let text = match topology {
        "async" => text.replace("topology: multi-az", "topology: async-replica\n  replica_lag: 1s"),
        _ => text.to_string(),
    };
    DbCluster::new(&Stack::parse(Path::new("t.yaml"), &text).unwrap())
}

const OPEN: &Reach = &Reach::OPEN;

/// Multi-AZ: everything acknowledged survives a failover.
#[test]
fn multi_az_failover_loses_nothing() {
    let mut c = cluster("multi-az");
    let t = Instant::now();
    for i in 0..10 {
        c.write(&format!("w{i}"), "x", t, OPEN).unwrap();
    }
    let (from, to, lost) = c.failover(t);
    assert_ne!(from, to);
    assert!(lost.is_empty());
    assert_eq!(
        c.write("late", "x", t, OPEN),
        Err(DbError::Unavailable(Outage::FailingOver))
    );
    c.tick(t + Duration::from_secs(3), OPEN);
    assert_eq!(c.read("w3", OPEN).unwrap().as_deref(), Some("x"));
}

/// Async replica: exactly the writes inside the lag window are lost.
#[test]
fn async_failover_loses_the_lag_window() {
    let mut c = cluster("async");
    let t = Instant::now();
    c.write("old", "x", t, OPEN).unwrap();
    c.tick(t + Duration::from_millis(1500), OPEN);
    c.write("new1", "x", t + Duration::from_millis(1500), OPEN).unwrap();
    c.write("new2", "x", t + Duration::from_millis(1600), OPEN).unwrap();
    let (_, _, lost) = c.failover(t + Duration::from_millis(2000));
    assert_eq!(lost, vec!["new1".to_string(), "new2".to_string()]);
    c.tick(t + Duration::from_secs(10), OPEN);
    assert_eq!(c.read("old", OPEN).unwrap().as_deref(), Some("x"));
    assert_eq!(c.read("new1", OPEN).unwrap(), None);
}

/// Failing over while the standby reboots reports exactly the writes it missed.
#[test]
fn failover_during_standby_reboot_names_only_real_writes() {
    let mut c = cluster("multi-az");
    let t = Instant::now();
    c.reboot("drill-db-2", false, t);
    c.write("w1", "x", t, OPEN).unwrap();
    let (_, _, lost) = c.failover(t + Duration::from_millis(100));
    assert_eq!(lost, vec!["w1".to_string()]);
}

/// Async replication needs the writer reachable: a cut-off writer ships nothing.
#[test]
fn cut_off_writer_does_not_replicate() {
    let mut c = cluster("async");
    let t = Instant::now();
    c.write("w1", "x", t, OPEN).unwrap();
    let writer = c.writer().subnet.clone();
    let cut = Reach {
        caller: &|s| s != writer,
        between: &|a, b| a != writer && b != writer,
    };
    c.tick(t + Duration::from_secs(2), &cut);
    let (_, _, lost) = c.failover(t + Duration::from_secs(2));
    assert_eq!(lost, vec!["w1".to_string()]);
}

/// The cluster fails over by itself once its writer has been cut off for
/// `auto_failover_after` (20 s by default), not before, and not when the standby is
/// cut off too; a cut that heals in time resets the clock.
#[test]
fn cut_off_writer_fails_over_by_itself_after_the_detection_time() {
    let mut c = cluster("multi-az");
    let after = Duration::from_secs(20);
    let t = Instant::now();
    let (writer, standby) = (c.writer().subnet.clone(), "subnet-db-1b".to_string());
    let writer_cut = &Reach {
        caller: &|s| s != writer,
        between: &|a, b| a != writer && b != writer,
    };
    assert!(!c.auto_failover_due(t, writer_cut), "the cut starts the clock");
    assert!(!c.auto_failover_due(t + after - Duration::from_millis(1), writer_cut));
    // Healed before the detection time: the clock starts again at the next cut.
    assert!(!c.auto_failover_due(t + after - Duration::from_millis(1), OPEN));
    assert!(!c.auto_failover_due(t + after, writer_cut));
    assert!(!c.auto_failover_due(t + after * 2 - Duration::from_millis(1), writer_cut));
    let both_cut = &Reach {
        caller: &|s| s != writer && s != standby,
        between: &|_, _| false,
    };
    assert!(!c.auto_failover_due(t + after * 2, both_cut), "no reachable standby");
    assert!(c.auto_failover_due(t + after * 2, writer_cut));
    let (from, to, _) = c.failover(t + after * 2);
    assert_eq!((from.as_str(), to.as_str()), ("drill-db-1", "drill-db-2"));
    // The new writer is reachable: nothing more is due, even while the old one is cut.
    assert!(!c.auto_failover_due(t + after * 4, writer_cut));
}

/// The writer endpoint keeps naming the old writer until the promotion is done, then
/// the new one. Sent to the old writer, a write fails while it is fenced off by the
/// failover and is refused as read-only once it is back as a reader, which still
/// answers reads from its own copy; the new writer takes writes.
#[test]
fn the_old_writer_is_read_only_after_the_endpoint_flips() {
    let mut c = cluster("multi-az");
    let t = Instant::now();
    c.write("before", "x", t, OPEN).unwrap();
    let (old, new) = (c.writer_index(), 1 - c.writer_index());
    assert_eq!(c.endpoint(), old);
    c.failover(t);
    assert_eq!(c.endpoint(), old, "the record flips when the promotion is done");
    assert_eq!(
        c.write_via(old, "a", "x", t, OPEN),
        Err(DbError::Unavailable(Outage::FailingOver))
    );
    c.tick(t + Duration::from_secs(3), OPEN);
    assert_eq!(c.endpoint(), new);
    assert_eq!(
        c.write_via(old, "b", "x", t, OPEN),
        Err(DbError::Unavailable(Outage::ReadOnly))
    );
    assert!(!c.writable_via(old, OPEN) && c.writable_via(new, OPEN));
    assert_eq!(c.read_via(old, "before", OPEN), Ok(Some("x".to_string())));
    assert_eq!(c.write_via(new, "c", "x", t, OPEN), Ok(()));
    assert_eq!(c.failovers(), 1);
}

/// A cut-off writer makes requests wait (unreachable), not fail fast.
#[test]
fn blocked_writer_is_unreachable() {
    let mut c = cluster("multi-az");
    let writer = c.writer().subnet.clone();
    let cut = Reach {
        caller: &|s| s != writer,
        between: &|a, b| a != writer && b != writer,
    };
    assert_eq!(c.write("a", "x", Instant::now(), &cut), Err(DbError::Unreachable));
}
