//! Bytes from the master's TCP connection, through the patched zeromq's ZMTP reader with a
//! small maximum message size (so that short inputs reach it): never a panic or an abort,
//! never a message over the limit, never a reserve of what a length field announces.
#![no_main]

use std::sync::Arc;

use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use zeromq::__bench::{zmq_framed_read_with_options, Message};
use zeromq::SocketOptions;

const LIMIT: usize = 300;

fuzz_target!(|data: &[u8]| {
    let mut opts = SocketOptions::default();
    opts.max_message_size(LIMIT);
    let mut read =
        zmq_framed_read_with_options(futures::io::Cursor::new(data.to_vec()), Arc::new(opts));
    futures::executor::block_on(async {
        let mut failed = false;
        while let Some(item) = read.next().await {
            assert!(!failed, "an item after a decode error");
            match item {
                Ok(Message::Message(m)) => {
                    let size: usize = m.iter().map(|f| f.len()).sum();
                    assert!(size <= LIMIT, "a message of {size} bytes");
                }
                Ok(_) => {}
                Err(_) => failed = true,
            }
        }
    });
});
