//! Request and response bodies: query strings, forms, JSON, basic auth, and undoing a
//! response's Content-Encoding within a size limit.

use std::io::Read;

use base64::Engine as _;
use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};

use super::HttpError;

/// The most codings one Content-Encoding may list (as urllib3 does): each one is a pass
/// over up to `limit` bytes, and no server stacks more than two.
const MAX_CODINGS: usize = 5;

/// `?k=v&...` encoding of any serde value that serializes as a sequence of pairs or a map/struct (as reqwest's .query).
///
/// The result has no leading `?` (see [`append_query`]); spaces become `+`, as in forms.
pub(crate) fn encode_query<T: serde::Serialize + ?Sized>(query: &T) -> Result<String, HttpError> {
    serde_urlencoded::to_string(query).map_err(|e| HttpError(format!("cannot encode query: {e}")))
}

/// Appends an encoded query to a path or URL: `?` or `&` as needed, before any `#fragment`; empty query leaves it unchanged.
pub(crate) fn append_query(path: &mut String, encoded: &str) {
    if encoded.is_empty() {
        return;
    }
    let end = path.find('#').unwrap_or(path.len());
    let before = &path[..end];
    let separator = match before.find('?') {
        None => "?",
        Some(_) if before.ends_with(['?', '&']) => "",
        Some(_) => "&",
    };
    path.insert_str(end, encoded);
    path.insert_str(end, separator);
}

/// application/x-www-form-urlencoded body.
pub(crate) fn encode_form<T: serde::Serialize + ?Sized>(form: &T) -> Result<Bytes, HttpError> {
    serde_urlencoded::to_string(form)
        .map(Bytes::from)
        .map_err(|e| HttpError(format!("cannot encode form: {e}")))
}

/// JSON body.
pub(crate) fn encode_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, HttpError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| HttpError(format!("cannot encode JSON: {e}")))
}

/// The Authorization value of HTTP basic auth ("Basic " + base64 of "user:password"; "user:" without a password, as requests does).
///
/// Both are sent as UTF-8 (RFC 7617's `charset="UTF-8"`).
pub(crate) fn basic_auth(user: &str, password: Option<&str>) -> String {
    let credentials = format!("{user}:{}", password.unwrap_or(""));
    let mut value = String::from("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(credentials, &mut value);
    value
}

/// Decodes a body by its Content-Encoding header value: gzip / x-gzip, deflate (zlib-wrapped, falling back to raw deflate as browsers do), br, identity; a list ("gzip, br") is undone in reverse order; an unknown coding is an error naming it. At most `limit` decoded bytes (a decompression bomb is an error, never an allocation of its announced size).
///
/// Names are case-insensitive; an empty value or list element is identity. An empty body
/// decodes to an empty body whatever the (known) codings (a HEAD, 204 or 304 answer). A
/// body without any coding is returned as it is, but is an error too when longer than
/// `limit`. A truncated or corrupt stream is an error, as is more than 5 codings; bytes
/// after the end of a deflate or brotli stream are ignored, after a gzip member they must
/// be another gzip member.
pub(crate) fn decode(
    content_encoding: &[u8],
    body: Bytes,
    limit: usize,
) -> Result<Bytes, HttpError> {
    let mut codings = Vec::new();
    for token in content_encoding.split(|&b| b == b',') {
        let token = token.trim_ascii();
        let coding = if token.is_empty() || token.eq_ignore_ascii_case(b"identity") {
            continue;
        } else if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
            Coding::Gzip
        } else if token.eq_ignore_ascii_case(b"deflate") {
            Coding::Deflate
        } else if token.eq_ignore_ascii_case(b"br") {
            Coding::Brotli
        } else {
            return Err(HttpError(format!(
                "unknown Content-Encoding {:?}",
                String::from_utf8_lossy(&token[..token.len().min(64)])
            )));
        };
        codings.push(coding);
    }
    if codings.len() > MAX_CODINGS {
        return Err(HttpError(format!(
            "Content-Encoding lists {} codings, more than {MAX_CODINGS}",
            codings.len()
        )));
    }
    if body.is_empty() {
        return Ok(body);
    }
    let mut body = body;
    for coding in codings.into_iter().rev() {
        body = coding
            .decode(&body, limit)
            .map_err(|e| HttpError(format!("cannot decode the {} body: {e}", coding.name())))?;
        if body.is_empty() {
            break;
        }
    }
    if body.len() > limit {
        return Err(HttpError(over_limit(limit)));
    }
    Ok(body)
}

#[derive(Clone, Copy, Debug)]
enum Coding {
    Gzip,
    Deflate,
    Brotli,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
        }
    }

    fn decode(self, input: &[u8], limit: usize) -> Result<Bytes, String> {
        match self {
            Coding::Gzip => {
                read_limited(flate2::read::MultiGzDecoder::new(input), input.len(), limit)
            }
            Coding::Brotli => read_limited(
                brotli_decompressor::Decompressor::new(input, 16 * 1024),
                input.len(),
                limit,
            ),
            // zlib-wrapped as RFC 9110 says, but some servers send raw deflate: browsers
            // fall back to it when the zlib header is not there or does not hold.
            Coding::Deflate if looks_like_zlib(input) => match inflate(input, true, limit) {
                Err(Inflate::Corrupt(zlib_error)) => {
                    inflate(input, false, limit).map_err(|e| match e {
                        Inflate::TooLarge => over_limit(limit),
                        Inflate::Corrupt(_) => zlib_error,
                    })
                }
                other => other.map_err(|e| e.message(limit)),
            },
            Coding::Deflate => inflate(input, false, limit).map_err(|e| e.message(limit)),
        }
        .map(Bytes::from)
    }
}

/// Reads `reader` to its end, up to `limit` bytes (an error beyond).
fn read_limited(reader: impl Read, input_len: usize, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(initial_capacity(input_len, limit));
    reader
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() > limit {
        return Err(over_limit(limit));
    }
    Ok(out)
}

/// A first guess at the decoded size, which the data (never a header's claim) may grow.
fn initial_capacity(input_len: usize, limit: usize) -> usize {
    input_len.saturating_mul(4).clamp(256, 64 * 1024).min(limit)
}

fn over_limit(limit: usize) -> String {
    format!("decoded body exceeds the limit of {limit} bytes")
}

/// RFC 1950's header: deflate (CM 8) with a window of at most 32 KiB, and a check sum.
fn looks_like_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

enum Inflate {
    Corrupt(String),
    TooLarge,
}

impl Inflate {
    fn message(self, limit: usize) -> String {
        match self {
            Inflate::Corrupt(e) => e,
            Inflate::TooLarge => over_limit(limit),
        }
    }
}

/// Inflates a zlib (`zlib_header`) or raw deflate stream, which must end (truncated is an
/// error: flate2's readers would take it for the end), into at most `limit` bytes.
fn inflate(input: &[u8], zlib_header: bool, limit: usize) -> Result<Vec<u8>, Inflate> {
    let mut inflater = Decompress::new(zlib_header);
    let mut out = Vec::new();
    let mut chunk = vec![0; initial_capacity(input.len(), 32 * 1024).max(1)];
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let produced_before = inflater.total_out();
        let rest = input.get(consumed..).unwrap_or_default();
        let status = inflater
            .decompress(rest, &mut chunk, FlushDecompress::None)
            .map_err(|e| Inflate::Corrupt(e.to_string()))?;
        let produced =
            usize::try_from(inflater.total_out() - produced_before).unwrap_or(usize::MAX);
        let new = chunk.get(..produced).unwrap_or_default();
        if out.len().saturating_add(new.len()) > limit {
            return Err(Inflate::TooLarge);
        }
        out.extend_from_slice(new);
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {
                let progressed = produced > 0 || inflater.total_in() > consumed as u64;
                if !progressed {
                    return Err(Inflate::Corrupt("truncated deflate stream".into()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::io::Write;

    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    use super::*;

    /// brotli of b"hello brotli", made with
    /// `python3 -m venv /tmp/brv && /tmp/brv/bin/pip install brotli && /tmp/brv/bin/python -c "import brotli;print(list(brotli.compress(b'hello brotli')))"`
    const BR_HELLO: [u8; 16] = [
        139, 5, 128, 104, 101, 108, 108, 111, 32, 98, 114, 111, 116, 108, 105, 3,
    ];

    /// brotli of b"hello brotli " * 100 (a compressed meta-block, not a stored one), made with
    /// the venv above: `python -c "import brotli;print(list(brotli.compress(b'hello brotli '*100)))"`
    const BR_REPEATED: [u8; 30] = [
        27, 19, 5, 248, 29, 169, 83, 159, 187, 112, 45, 86, 134, 38, 39, 65, 216, 232, 146, 45,
        237, 45, 12, 140, 6, 14, 38, 51, 126, 1,
    ];

    /// brotli of the gzip of b"hello chain" (Content-Encoding "gzip, br"), made with the venv
    /// above: `python -c "import brotli,gzip;print(list(brotli.compress(gzip.compress(b'hello chain', mtime=0))))"`
    const BR_OF_GZIP: [u8; 35] = [
        11, 15, 128, 31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 87, 72, 206, 72, 204,
        204, 3, 0, 12, 24, 63, 134, 11, 0, 0, 0, 3,
    ];

    const MB: usize = 1024 * 1024;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn dec(coding: &str, body: impl Into<Vec<u8>>) -> Result<Bytes, HttpError> {
        decode(coding.as_bytes(), Bytes::from(body.into()), MB)
    }

    fn text() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| format!("line {i} of the body\n").into_bytes())
            .collect()
    }

    #[test]
    fn query_from_pairs() {
        assert_eq!(
            encode_query(&[("a", "1"), ("b", "x y")]).unwrap(),
            "a=1&b=x+y"
        );
        assert_eq!(encode_query(&vec![("k", 1), ("k", 2)]).unwrap(), "k=1&k=2");
        assert_eq!(
            encode_query(&[("q", "a&b=c/é#?%")]).unwrap(),
            "q=a%26b%3Dc%2F%C3%A9%23%3F%25"
        );
        assert_eq!(encode_query::<[(&str, &str)]>(&[]).unwrap(), "");
    }

    #[test]
    fn query_from_a_struct() {
        #[derive(serde::Serialize)]
        struct Search<'a> {
            q: &'a str,
            page: u32,
            exact: bool,
            lang: Option<&'a str>,
        }
        let s = Search {
            q: "rust lang",
            page: 2,
            exact: true,
            lang: None,
        };
        assert_eq!(encode_query(&s).unwrap(), "q=rust+lang&page=2&exact=true");
    }

    #[test]
    fn query_from_a_map() {
        let map = HashMap::from([("only", "one")]);
        assert_eq!(encode_query(&map).unwrap(), "only=one");
        let map = BTreeMap::from([("b", "2"), ("a", "1")]);
        assert_eq!(encode_query(&map).unwrap(), "a=1&b=2");
    }

    #[test]
    fn query_that_is_not_pairs_is_an_error() {
        assert!(encode_query(&42).is_err());
        assert!(encode_query("text").is_err());
        assert!(encode_query(&[("a", vec![1, 2])]).is_err());
    }

    #[test]
    fn append_query_picks_the_separator() {
        let cases = [
            ("/search", "?a=1"),
            ("/search?x=0", "?x=0&a=1"),
            ("/search?", "?a=1"),
            ("/search?x=0&", "?x=0&a=1"),
            ("/search#top", "?a=1#top"),
            ("/search?x=0#top", "?x=0&a=1#top"),
            ("/p#frag?not=query", "?a=1#frag?not=query"),
            ("http://h:8080/p?x=0#f", "?x=0&a=1#f"),
            ("", "?a=1"),
        ];
        for (path, want_tail) in cases {
            let mut got = path.to_string();
            append_query(&mut got, "a=1");
            let head = path.split(['?', '#']).next().unwrap();
            assert_eq!(got, format!("{head}{want_tail}"), "{path:?}");
        }
    }

    #[test]
    fn append_empty_query_changes_nothing() {
        for path in ["/p", "/p?", "/p?x=1#f", ""] {
            let mut got = path.to_string();
            append_query(&mut got, "");
            assert_eq!(got, path);
        }
    }

    #[test]
    fn form_body() {
        let body = encode_form(&[("user", "a b"), ("pass", "p&w=d")]).unwrap();
        assert_eq!(&body[..], b"user=a+b&pass=p%26w%3Dd");
        assert!(encode_form(&1.5).is_err());
    }

    #[test]
    fn json_body() {
        #[derive(serde::Serialize)]
        struct Login<'a> {
            user: &'a str,
            tags: Vec<u8>,
        }
        let body = encode_json(&Login {
            user: "é\"",
            tags: vec![1, 2],
        })
        .unwrap();
        assert_eq!(&body[..], r#"{"user":"é\"","tags":[1,2]}"#.as_bytes());
        assert_eq!(&encode_json(&serde_json::json!(null)).unwrap()[..], b"null");
        let bad_key = HashMap::from([((1, 2), 3)]);
        assert!(encode_json(&bad_key).is_err());
    }

    #[test]
    fn basic_auth_vectors() {
        assert_eq!(
            basic_auth("Aladdin", Some("open sesame")),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("user", None), "Basic dXNlcjo=");
        assert_eq!(basic_auth("user", Some("")), "Basic dXNlcjo=");
        assert_eq!(basic_auth("", None), "Basic Og==");
        // RFC 7617 2.1's UTF-8 example.
        assert_eq!(
            basic_auth("test", Some("123\u{a3}")),
            "Basic dGVzdDoxMjPCow=="
        );
        assert_eq!(basic_auth("a:b", Some("c:d")), "Basic YTpiOmM6ZA==");
    }

    #[test]
    fn identity_and_empty_return_the_body() {
        for coding in ["", "identity", "IDENTITY", " identity , ", ","] {
            assert_eq!(
                dec(coding, b"plain".as_slice()).unwrap(),
                b"plain".as_slice(),
                "{coding:?}"
            );
        }
        for coding in ["gzip", "deflate", "br", "gzip, br"] {
            assert_eq!(
                dec(coding, Vec::new()).unwrap(),
                b"".as_slice(),
                "{coding:?}"
            );
        }
    }

    #[test]
    fn gzip_round_trip() {
        let data = text();
        for coding in ["gzip", "x-gzip", "GZip", " gzip "] {
            assert_eq!(dec(coding, gzip(&data)).unwrap(), data, "{coding:?}");
        }
        // Two members, as a concatenating server sends them.
        let mut two = gzip(b"first ");
        two.extend(gzip(b"second"));
        assert_eq!(dec("gzip", two).unwrap(), b"first second".as_slice());
    }

    #[test]
    fn deflate_zlib_and_raw_round_trips() {
        let data = text();
        assert_eq!(dec("deflate", zlib(&data)).unwrap(), data);
        assert_eq!(dec("deflate", raw_deflate(&data)).unwrap(), data);
        assert_eq!(dec("deflate", raw_deflate(b"x")).unwrap(), b"x".as_slice());
        assert_eq!(dec("deflate", zlib(b"")).unwrap(), b"".as_slice());
        // Trailing bytes after the stream are ignored.
        let mut trailing = zlib(b"abc");
        trailing.extend_from_slice(b"junk");
        assert_eq!(dec("deflate", trailing).unwrap(), b"abc".as_slice());
    }

    #[test]
    fn raw_deflate_that_looks_like_zlib_falls_back() {
        // A raw stream whose first two bytes pass the zlib header check: a stored block
        // (header bits 000, padding bits 1000 => 0x08) of LEN 29 (0x08, 29 is a valid zlib
        // header), then an empty final fixed block.
        let data = b"twenty-nine bytes of payload!";
        let mut raw = vec![0x08, 29, 0, !29, 0xff];
        raw.extend_from_slice(data);
        raw.extend_from_slice(&[0x03, 0x00]);
        assert!(looks_like_zlib(&raw));
        assert_eq!(dec("deflate", raw).unwrap(), data.as_slice());
    }

    #[test]
    fn brotli_payloads() {
        assert_eq!(dec("br", BR_HELLO).unwrap(), b"hello brotli".as_slice());
        assert_eq!(
            dec("BR", BR_REPEATED).unwrap(),
            b"hello brotli ".repeat(100)
        );
    }

    #[test]
    fn truncated_streams_are_errors() {
        let data = text();
        let gz = gzip(&data);
        for cut in [1, 10, gz.len() / 2, gz.len() - 4, gz.len() - 1] {
            let e = dec("gzip", &gz[..cut]).unwrap_err();
            assert!(e.to_string().contains("gzip"), "{cut}: {e}");
        }
        let z = zlib(&data);
        for cut in [1, z.len() / 2, z.len() - 1] {
            assert!(dec("deflate", &z[..cut]).is_err(), "zlib cut at {cut}");
        }
        let raw = raw_deflate(&data);
        assert!(dec("deflate", &raw[..raw.len() / 2]).is_err());
        for cut in [1, 5, BR_HELLO.len() - 1] {
            assert!(dec("br", &BR_HELLO[..cut]).is_err(), "br cut at {cut}");
        }
        assert!(dec("br", &BR_REPEATED[..20]).is_err());
    }

    #[test]
    fn corrupt_streams_are_errors() {
        assert!(dec("gzip", b"not gzip at all".as_slice()).is_err());
        assert!(dec("deflate", [0xff; 64]).is_err());
        assert!(dec("br", [0xff; 64]).is_err());
        let mut gz = gzip(b"checksummed");
        let crc = gz.len() - 8;
        gz[crc] ^= 1;
        assert!(dec("gzip", gz).is_err());
        let mut two = gzip(b"a");
        two.extend_from_slice(b"trailing junk");
        assert!(dec("gzip", two).is_err());
    }

    #[test]
    fn the_limit_stops_a_bomb() {
        let zeros = vec![0u8; 10 * MB];
        for (coding, body) in [
            ("gzip", gzip(&zeros)),
            ("deflate", zlib(&zeros)),
            ("deflate", raw_deflate(&zeros)),
        ] {
            assert!(body.len() < 100 * 1024);
            let e = decode(coding.as_bytes(), Bytes::from(body.clone()), MB).unwrap_err();
            assert!(
                e.to_string().contains("limit of 1048576 bytes"),
                "{coding}: {e}"
            );
            assert_eq!(
                decode(coding.as_bytes(), Bytes::from(body), 10 * MB)
                    .unwrap()
                    .len(),
                10 * MB
            );
        }
        let e = decode(b"br", Bytes::from_static(&BR_REPEATED), 1299).unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        assert_eq!(
            decode(b"br", Bytes::from_static(&BR_REPEATED), 1300)
                .unwrap()
                .len(),
            1300
        );
    }

    #[test]
    fn the_limit_is_inclusive_and_covers_identity() {
        let body = gzip(b"12345");
        assert_eq!(
            decode(b"gzip", Bytes::from(body.clone()), 5).unwrap(),
            b"12345".as_slice()
        );
        assert!(decode(b"gzip", Bytes::from(body), 4).is_err());
        assert!(decode(b"", Bytes::from_static(b"12345"), 4).is_err());
        assert!(decode(b"deflate", Bytes::from(zlib(b"12345")), 4).is_err());
        assert_eq!(
            decode(b"gzip", Bytes::from(gzip(b"")), 0).unwrap(),
            b"".as_slice()
        );
        assert_eq!(
            decode(b"gzip", Bytes::from(gzip(b"x")), usize::MAX).unwrap(),
            b"x".as_slice()
        );
    }

    #[test]
    fn chained_codings_are_undone_in_reverse() {
        // "gzip, br": gzip was applied first, then br.
        assert_eq!(
            dec("gzip, br", BR_OF_GZIP).unwrap(),
            b"hello chain".as_slice()
        );
        assert!(dec("br, gzip", BR_OF_GZIP).is_err());
        assert_eq!(
            dec("br, gzip", gzip(&BR_HELLO)).unwrap(),
            b"hello brotli".as_slice()
        );
        let data = text();
        assert_eq!(dec("deflate,gzip", gzip(&zlib(&data))).unwrap(), data);
        assert_eq!(
            dec("gzip, identity, gzip", gzip(&gzip(&data))).unwrap(),
            data
        );
        // Each step is held to the limit.
        let zeros = vec![0u8; 10 * MB];
        assert!(dec("gzip, gzip", gzip(&gzip(&zeros))).is_err());
    }

    #[test]
    fn too_many_codings_are_an_error() {
        let mut body = b"x".to_vec();
        for _ in 0..6 {
            body = gzip(&body);
        }
        let e = dec("gzip,gzip,gzip,gzip,gzip,gzip", body.clone()).unwrap_err();
        assert!(e.to_string().contains("more than 5"), "{e}");
        assert!(dec(
            "gzip,gzip,gzip,gzip,gzip",
            gzip(&gzip(&gzip(&gzip(&gzip(b"x")))))
        )
        .is_ok());
    }

    #[test]
    fn unknown_coding_is_an_error_naming_it() {
        for (coding, name) in [
            ("zstd", "zstd"),
            ("gzip, compress", "compress"),
            ("x-bogus", "x-bogus"),
        ] {
            let e = dec(coding, gzip(b"x")).unwrap_err();
            assert!(
                e.to_string().contains(&format!("{name:?}")),
                "{coding}: {e}"
            );
        }
        let e = decode(b"\xff\xfe", Bytes::from_static(b"x"), MB).unwrap_err();
        assert!(e.to_string().contains("unknown Content-Encoding"), "{e}");
        let long = "z".repeat(10_000);
        assert!(dec(&long, b"x".as_slice()).unwrap_err().to_string().len() < 200);
    }
}
