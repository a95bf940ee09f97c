//! URLs as the client needs them: where to connect, what to send as the request target,
//! and how a redirect's `Location` resolves. A small parser of our own rather than
//! `url::Url` on every request: the fast path parses a URL only when the path or host
//! changes, and then only splits it (no allocation beyond the target itself).

use std::fmt;

use super::HttpError;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An absolute URL split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    /// `host[:port]` as written, for the `Host` header and `:authority`.
    pub(crate) authority: String,
    /// The host without brackets (an IPv6 literal is bracketed only in URLs).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, the request target (`/` when the URL has no path).
    pub(crate) path: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL; the fragment is dropped, and bytes
    /// a request line cannot carry (spaces, controls, non-ASCII) are percent-encoded, as
    /// `requests` does.
    pub(crate) fn parse(url: &str) -> Result<Target, HttpError> {
        let (scheme, rest) = if let Some(rest) = strip_prefix_ci(url, "http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = strip_prefix_ci(url, "https://") {
            (Scheme::Https, rest)
        } else {
            return Err(HttpError::new(format!(
                "invalid URL {url:?}: not an http:// or https:// URL"
            )));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // Userinfo (`user:pass@host`) is not sent in the Host header.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        if authority.is_empty() || authority.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(HttpError::new(format!("invalid URL {url:?}: bad host")));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| HttpError::new(format!("invalid URL {url:?}: bad host or port")))?;
        let path = path.split('#').next().unwrap_or("");
        let path = match path.as_bytes().first() {
            None => "/".to_string(),
            Some(b'?') => format!("/{}", encode_target(path)),
            Some(_) => encode_target(path),
        };
        Ok(Target {
            scheme,
            authority: authority.to_string(),
            host: host.to_string(),
            port: port.unwrap_or(scheme.default_port()),
            path,
        })
    }

    /// The same scheme, host and port (one connection serves both).
    pub(crate) fn same_origin(&self, other: &Target) -> bool {
        self.scheme == other.scheme && self.port == other.port && self.host == other.host
    }

    /// `scheme://authority`, the origin.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority)
    }

    /// The URL a `Location` points to from this one: absolute, scheme-relative,
    /// absolute-path or relative (with `.` and `..` segments), as browsers resolve it.
    pub(crate) fn resolve(&self, location: &str) -> Result<Target, HttpError> {
        let location = location.trim();
        if strip_prefix_ci(location, "http://").is_some()
            || strip_prefix_ci(location, "https://").is_some()
        {
            return Target::parse(location);
        }
        let text = if let Some(rest) = location.strip_prefix("//") {
            format!("{}://{rest}", self.scheme.as_str())
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin())
        } else if location.starts_with('?') {
            let path = self.path.split('?').next().unwrap_or("/");
            format!("{}{path}{location}", self.origin())
        } else {
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!(
                "{}{}",
                self.origin(),
                remove_dots(&format!("{dir}{location}"))
            )
        };
        Target::parse(&text)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path
        )
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → (host without brackets, port).
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, "")) => Some((host, None)),
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((authority, None)),
    }
}

/// Percent-encodes the bytes a request target cannot carry; everything else (including
/// existing `%XX` escapes) is kept as written.
fn encode_target(path: &str) -> String {
    let bad = |b: u8| b <= b' ' || b >= 0x7f || b"\"<>\\^`{|}".contains(&b);
    if !path.bytes().any(bad) {
        return path.to_string();
    }
    let mut out = String::with_capacity(path.len() + 16);
    for b in path.bytes() {
        if bad(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// RFC 3986 §5.2.4 on a path that may carry a query: `/a/b/../c` → `/a/c`.
fn remove_dots(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut text = out.join("/");
    if !text.starts_with('/') {
        text.insert(0, '/');
    }
    if let Some(q) = query {
        text.push('?');
        text.push_str(q);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn urls_split_into_what_a_request_needs() {
        let x = t("http://[::1]:81/p?q=1#frag");
        assert_eq!(
            (
                x.host.as_str(),
                x.port,
                x.authority.as_str(),
                x.path.as_str()
            ),
            ("::1", 81, "[::1]:81", "/p?q=1")
        );
        assert_eq!(t("https://h").port, 443);
        assert_eq!(t("https://h").path, "/");
        assert_eq!(t("HTTP://h:8080?x").path, "/?x");
        assert_eq!(t("http://u:p@h:1/").authority, "h:1");
        assert_eq!(t("http://h/a b").path, "/a%20b");
        assert_eq!(t("http://h/caf\u{e9}").path, "/caf%C3%A9");
        for bad in [
            "ftp://h/",
            "h/",
            "http:///x",
            "http://h:99999/",
            "http://h :1/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locations_resolve_as_browsers_do() {
        let base = t("http://a:8080/x/y?q=1");
        let cases = [
            ("/z", "http://a:8080/z"),
            ("z", "http://a:8080/x/z"),
            ("../z", "http://a:8080/z"),
            ("./z/.", "http://a:8080/x/z/"),
            ("?r=2", "http://a:8080/x/y?r=2"),
            ("http://b/c", "http://b/c"),
            ("https://b/c", "https://b/c"),
            ("//b:9/c", "http://b:9/c"),
        ];
        for (loc, want) in cases {
            assert_eq!(base.resolve(loc).unwrap().to_string(), want, "{loc}");
        }
    }
}
