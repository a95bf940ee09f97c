//! A master that announces huge frames: a raw TCP peer speaking ZMTP 3.0 (not a ZeroMQ
//! library, so it can lie in a frame's length field) plays the master for a real worker.
//! zeromq 0.7.0 reserved whatever the length field announced; the worker must instead drop
//! the connection before allocating, reconnect, and go on.

use std::time::Duration;

use boomer_core::protocol::{self, MAX_FRAME};
use boomer_core::{Boomer, Exit, Task, TaskFn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(20);

/// The process's peak virtual size (VmPeak), in bytes: a reserve shows here even when the
/// kernel has not backed it with memory yet.
fn vm_peak() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmPeak:"))
        .expect("a VmPeak line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmPeak in kB");
    kib * 1024
}

/// One frame, as ZMTP 3.0 puts it on the wire; `len` is what the header announces.
fn header(flags: u8, len: u64) -> Vec<u8> {
    if len > 255 {
        let mut h = vec![flags | 0x02];
        h.extend(len.to_be_bytes());
        h
    } else {
        vec![flags, len as u8]
    }
}

/// Accepts the worker's next connection and does the NULL-mechanism handshake of a ROUTER;
/// returns the stream and the worker's identity (its node id).
async fn accept(listener: &TcpListener) -> (TcpStream, String) {
    let (mut s, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the worker connects")
        .expect("accept");
    let mut greeting = [0u8; 64];
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10] = 3;
    greeting[12..16].copy_from_slice(b"NULL");
    s.write_all(&greeting).await.expect("greeting");
    let mut theirs = [0u8; 64];
    s.read_exact(&mut theirs)
        .await
        .expect("the worker's greeting");
    assert_eq!((theirs[0], theirs[9], theirs[10]), (0xff, 0x7f, 3));

    let mut ready = vec![5u8];
    ready.extend(b"READY");
    ready.push(11);
    ready.extend(b"Socket-Type");
    ready.extend(6u32.to_be_bytes());
    ready.extend(b"ROUTER");
    let mut frame = header(0x04, ready.len() as u64);
    frame.extend(&ready);
    s.write_all(&frame).await.expect("READY");

    // The worker's READY: [flags, len, body] with an Identity property.
    let flags = s.read_u8().await.expect("READY flags");
    assert_eq!(flags & 0x04, 0x04, "a command");
    let len = if flags & 0x02 != 0 {
        s.read_u64().await.expect("len") as usize
    } else {
        usize::from(s.read_u8().await.expect("len"))
    };
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.expect("READY body");
    let mut rest = &body[1 + usize::from(body[0])..];
    let mut identity = String::new();
    while !rest.is_empty() {
        let n = usize::from(rest[0]);
        let name = &rest[1..1 + n];
        let vlen = u32::from_be_bytes(rest[1 + n..5 + n].try_into().unwrap()) as usize;
        let value = &rest[5 + n..5 + n + vlen];
        if name == b"Identity" {
            identity = String::from_utf8(value.to_vec()).expect("utf-8 identity");
        }
        rest = &rest[5 + n + vlen..];
    }
    assert!(!identity.is_empty(), "the worker sends its node id");
    (s, identity)
}

/// Reads (and discards) until the worker closes the connection; false if it did not
/// within [`WAIT`].
async fn closed_by_worker(s: &mut TcpStream) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(WAIT, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_announcing_huge_frames_is_dropped_before_allocating() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    let builder = Boomer::builder()
        .task(Task::new("noop", 1, TaskFn::Sync(|_| Ok(()))))
        .args(["worker", "--master-port", &port.to_string()])
        .expect("options");
    let worker = tokio::spawn(builder.run());

    // A frame claiming 4 GiB, followed by a little of it: no 4 GiB reserve.
    let (mut s, _) = accept(&listener).await;
    let before = vm_peak();
    s.write_all(&header(0, 4 << 30)).await.expect("header");
    let _ = s.write_all(&[0u8; 4096]).await;
    let closed = closed_by_worker(&mut s).await;
    let grown = vm_peak().saturating_sub(before);
    assert!(
        grown < 1 << 30,
        "VmPeak grew by {} MiB for a frame announcing 4 GiB",
        grown >> 20
    );
    assert!(closed, "the worker waits for the 4 GiB frame");

    // 2^45 bytes: the unpatched reserve aborts the process ("memory allocation failed").
    let (mut s, _) = accept(&listener).await;
    s.write_all(&header(0, 1 << 45)).await.expect("header");
    assert!(
        closed_by_worker(&mut s).await,
        "a frame announcing 2^45 bytes"
    );

    // Frames under the limit that add up past it (MORE set on each): the sum counts.
    let (mut s, _) = accept(&listener).await;
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..=(MAX_FRAME >> 20) {
        let mut f = header(0x01, chunk.len() as u64);
        f.extend(&chunk);
        if s.write_all(&f).await.is_err() {
            break;
        }
    }
    assert!(
        closed_by_worker(&mut s).await,
        "frames adding up past the limit"
    );

    // Still the worker it was: it reconnects and quits when told, as the master's own.
    let (mut s, node) = accept(&listener).await;
    let quit = protocol::encode("quit", &(), &node);
    let mut f = header(0, quit.len() as u64);
    f.extend(&quit);
    s.write_all(&f).await.expect("quit");
    let exit = tokio::time::timeout(WAIT, worker)
        .await
        .expect("the worker quits")
        .expect("no panic")
        .expect("no error");
    assert_eq!(exit, Exit::Quit);
}

/// A frame of exactly the limit still arrives: the limit is not off by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_the_limit_is_taken() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    let builder = Boomer::builder()
        .task(Task::new("noop", 1, TaskFn::Sync(|_| Ok(()))))
        .args(["worker", "--master-port", &port.to_string()])
        .expect("options");
    let worker = tokio::spawn(builder.run());
    let (mut s, node) = accept(&listener).await;
    // A custom message padded to MAX_FRAME bytes, then quit on the same connection.
    let small = protocol::encode("pad", &"", &node).len();
    let pad = "x".repeat(MAX_FRAME - small - 4);
    let big = protocol::encode("pad", &pad, &node);
    assert_eq!(big.len(), MAX_FRAME);
    let mut f = header(0, big.len() as u64);
    f.extend(&big);
    let quit = protocol::encode("quit", &(), &node);
    f.extend(header(0, quit.len() as u64));
    f.extend(&quit);
    s.write_all(&f).await.expect("frames");
    let exit = tokio::time::timeout(WAIT, worker)
        .await
        .expect("the worker quits on the same connection")
        .expect("no panic")
        .expect("no error");
    assert_eq!(exit, Exit::Quit);
}
