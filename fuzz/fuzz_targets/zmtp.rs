//! Bytes from the master's TCP connection (what follows the ZMTP greeting), through the
//! worker's own frame reader (`transport.rs`): never a panic or an abort, never a message
//! over `MAX_FRAME`, never a reserve of what a length field announces (libFuzzer's
//! `-rss_limit_mb` in scripts/fuzz fails the run on one).
#![no_main]

use boomer_core::__fuzz::{zmtp_messages, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(messages) = zmtp_messages(data) {
        let taken: usize = messages.iter().map(Vec::len).sum();
        assert!(taken <= data.len(), "{taken} bytes out of {}", data.len());
        for m in &messages {
            assert!(m.len() <= MAX_FRAME, "a message of {} bytes", m.len());
        }
    }
});
