//! One frame from the master, as the control thread takes it: decoded, interpreted, logged.
//! Checks, besides "no panic, no abort": the iterative reader agrees with rmpv's recursive
//! one wherever rmpv can go, a decoded message re-encodes to a frame that decodes the same,
//! and all of it fits in the control thread's 2 MiB stack.
#![no_main]

use boomer_core::protocol::{self, DecodeError, FromMaster, MAX_DEPTH};
use boomer_core::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // rmpv, the reference, recurses: it runs on the fuzzer's own 8 MiB stack. Its depth
    // counts two per container and one or two per scalar.
    let theirs = rmpv::decode::read_value_with_max_depth(&mut &data[..], 2 * MAX_DEPTH + 2);
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || check(&data, theirs))
        .expect("thread")
        .join()
        .expect("no panic");
});

/// Bytes compare NaNs too (`Value`'s `==` says NaN != NaN).
fn bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("encode");
    out
}

fn check(data: &[u8], theirs: Result<Value, rmpv::decode::Error>) {
    match (protocol::read_value(data), &theirs) {
        (Ok((v, _)), Ok(w)) => assert_eq!(bytes(&v), bytes(w), "the readers disagree"),
        (Ok((v, _)), Err(e)) => panic!("rmpv refuses what we read ({e}): {v:?}"),
        // rmpv keeps a str that is not UTF-8, and reads the reserved marker 0xc1 as nil;
        // Python's unpacker refuses both, as we do (a finding of this target's first run).
        (Err(DecodeError::Msgpack(m)), Ok(_)) if m.contains("not UTF-8") || m.contains("0xc1") => {}
        (Err(DecodeError::TooDeep | DecodeError::TooManyValues), _) => {}
        (Err(e), Ok(w)) => panic!("we refuse ({e}) what rmpv reads: {w:?}"),
        (Err(_), Err(_)) => {}
    }
    let Ok(env) = protocol::decode(data) else {
        return;
    };
    let again = protocol::encode(&env.kind, &env.data, &env.node_id);
    let back = protocol::decode(&again).expect("a re-encoded message decodes");
    assert_eq!(
        (&back.kind, bytes(&back.data), &back.node_id),
        (&env.kind, bytes(&env.data), &env.node_id)
    );
    match FromMaster::parse(env) {
        Ok(FromMaster::Spawn { timestamp, event }) => {
            assert!(timestamp.is_finite());
            assert!(u64::from(event.users()) <= protocol::MAX_USERS);
            let t = event.stop_timeout();
            assert!((0.0..=protocol::MAX_STOP_TIMEOUT).contains(&t), "{t}");
            let _ = std::time::Instant::now() + std::time::Duration::from_secs_f64(t);
        }
        Ok(FromMaster::Custom(m)) => {
            // What handlers do with a payload.
            let _ = m.decode::<serde_json::Value>();
            let _ = m.decode::<String>();
            let _ = format!("{:?}", m.data());
        }
        Ok(FromMaster::UpdateUserClass(v)) => {
            let _ = format!("{v}");
        }
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
