//! A user's cookie jar, kept as `requests.Session` keeps one: what a response sets is sent
//! back on later requests that match it by the rules of RFC 6265 (domain and host-only,
//! path, expiry by `Max-Age` or `Expires`, `Secure` only over https).
//!
//! The matching is [`cookie_store`]'s (what reqwest uses), with these differences:
//! - `Secure` cookies go over `https://` only; cookie_store also sends them over plain http
//!   to `localhost` and loopback addresses (the browsers' "potentially trustworthy" rule),
//!   which `requests` does not.
//! - A `Domain` attribute without an inner dot (`Domain=com`) is refused unless it is the
//!   request's host itself (as `requests` does): without a public-suffix list, cookie_store
//!   would accept it and send the cookie to every host under that top-level domain.
//! - A cookie whose name and value together exceed 4096 bytes (RFC 6265bis) or that holds a
//!   control character is dropped, so the Cookie header built from the jar is always valid.
//! - A cookie deleted (`Max-Age=0`, `Expires` in the past) is removed from the jar, not kept
//!   as an expired entry, so `CookieJar::is_empty` is exact and cheap.
//! - The Cookie header lists longer paths first (RFC 6265 5.4), then names in order, so it
//!   is the same on every run.
//!
//! Cookies ignore ports (RFC 6265 8.5): a cookie from `127.0.0.1:8080` goes to any port of
//! `127.0.0.1`. An IP host only matches itself: a cookie from `127.0.0.1` never goes to
//! `localhost`, and `Domain` cannot widen an IP address.

use std::fmt;

use cookie_store::{Cookie, CookieError, CookieStore, RawCookie, StoreAction};
use url::Url;

use super::HttpError;

/// The longest name plus value a cookie may have (RFC 6265bis 5.6, as browsers do).
const MAX_NAME_VALUE: usize = 4096;

/// A user's cookies: what the servers set, sent back where RFC 6265 says they go.
#[derive(Clone, Default)]
pub struct CookieJar {
    store: CookieStore,
    /// How many cookies `store` holds (expired ones included until purged): cookie_store
    /// has no `len`, and iterating its nested maps to find out is not O(1).
    len: usize,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values are often credentials.
        f.debug_struct("CookieJar")
            .field(
                "names",
                &self.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CookieJar {
    /// Stores the Set-Cookie header values of a response from `url` (invalid ones dropped).
    pub(crate) fn store_response<'a>(
        &mut self,
        url: &Url,
        set_cookie: impl Iterator<Item = &'a [u8]>,
    ) {
        let mut seen = false;
        for value in set_cookie {
            seen = true;
            if let Err(why) = self.insert(url, value) {
                tracing::debug!(
                    "dropped a Set-Cookie from {}: {why}",
                    url.host_str().unwrap_or("?")
                );
            }
        }
        if seen {
            self.purge_expired();
        }
    }

    /// The Cookie header value for a request to `url` ("a=1; b=2"), None when no cookie matches.
    pub(crate) fn request_header(&self, url: &Url) -> Option<String> {
        if self.len == 0 {
            return None;
        }
        let secure = matches!(url.scheme(), "https" | "wss");
        let mut cookies: Vec<&Cookie<'static>> = self
            .store
            .iter_unexpired()
            .filter(|c| c.matches(url) && (secure || c.secure() != Some(true)))
            .collect();
        if cookies.is_empty() {
            return None;
        }
        cookies.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then_with(|| a.name().cmp(b.name()))
        });
        let mut header = String::new();
        for cookie in cookies {
            if !header.is_empty() {
                header.push_str("; ");
            }
            let (name, value) = cookie.name_value();
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        Some(header)
    }

    /// True when the jar holds no cookie at all (the client's fast path skips building a Url then): must be O(1)-cheap.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of the unexpired cookie `name`, whatever its domain and path (the first found).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.store
            .iter_unexpired()
            .find(|c| c.name() == name)
            .map(|c| c.value())
    }

    /// Stores `set_cookie` (a Set-Cookie header value, e.g. "session=abc; Path=/") as if the
    /// server at `url` (e.g. "http://127.0.0.1:8080/") had sent it.
    ///
    /// A cookie that is already expired (`Max-Age=0`) deletes the one it names. An error says
    /// why the URL or the cookie was refused (nothing is stored then).
    pub fn set(&mut self, url: &str, set_cookie: &str) -> Result<(), HttpError> {
        let parsed = Url::parse(url).map_err(|e| HttpError(format!("invalid URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(HttpError(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
        let result = self.insert(&parsed, set_cookie.as_bytes());
        self.purge_expired();
        result.map_err(|why| HttpError(format!("cookie not stored: {why}")))
    }

    /// Removes every cookie named `name`.
    pub fn remove(&mut self, name: &str) {
        let keys: Vec<_> = self
            .store
            .iter_any()
            .filter(|c| c.name() == name)
            .map(key)
            .collect();
        self.remove_keys(keys);
    }

    /// Removes every cookie.
    pub fn clear(&mut self) {
        self.store.clear();
        self.len = 0;
    }

    /// (name, value) of every unexpired cookie.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.store.iter_unexpired().map(|c| c.name_value())
    }

    /// Stores one Set-Cookie value from `url`, or says why not. An expired cookie deletes the
    /// cookie with its name, domain and path (and is no error).
    fn insert(&mut self, url: &Url, set_cookie: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(set_cookie).map_err(|_| "not UTF-8".to_string())?;
        if text.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err("holds a control character".into());
        }
        let raw = RawCookie::parse(text).map_err(|e| format!("unparsable: {e}"))?;
        let size = raw.name().len() + raw.value().len();
        if size > MAX_NAME_VALUE {
            return Err(format!(
                "{}: name and value are {size} bytes, more than {MAX_NAME_VALUE}",
                raw.name()
            ));
        }
        if let Some(domain) = raw.domain() {
            let domain = domain.trim().trim_end_matches('.');
            let host = url.host_str().unwrap_or("");
            if !domain.contains('.') && !domain.eq_ignore_ascii_case(host) {
                return Err(format!(
                    "{}: Domain={domain} is a top-level domain",
                    raw.name()
                ));
            }
        }
        let cookie = Cookie::try_from_raw_cookie(&raw, url)
            .map_err(|e| format!("{}: {e}", raw.name()))?
            .into_owned();
        let (domain, path, name) = key(&cookie);
        match self.store.insert(cookie, url) {
            Ok(StoreAction::Inserted) => self.len += 1,
            Ok(StoreAction::UpdatedExisting) => {}
            // cookie_store marks the old cookie expired but keeps it: remove it.
            Ok(StoreAction::ExpiredExisting) | Err(CookieError::Expired) => {
                self.remove_keys([(domain, path, name)]);
            }
            Err(e) => return Err(format!("{name}: {e}")),
        }
        Ok(())
    }

    /// Removes the cookies that expired since they were stored.
    fn purge_expired(&mut self) {
        if self.len == 0 {
            return;
        }
        let keys: Vec<_> = self
            .store
            .iter_any()
            .filter(|c| c.is_expired())
            .map(key)
            .collect();
        self.remove_keys(keys);
    }

    fn remove_keys(&mut self, keys: impl IntoIterator<Item = (String, String, String)>) {
        for (domain, path, name) in keys {
            if self.store.remove(&domain, &path, &name).is_some() {
                self.len = self.len.saturating_sub(1);
            }
        }
    }
}

/// The (domain, path, name) under which cookie_store files `cookie`.
fn key(cookie: &Cookie<'_>) -> (String, String, String) {
    (
        String::from(&cookie.domain),
        String::from(&cookie.path),
        cookie.name().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// The jar after `url` answered with these Set-Cookie values.
    fn jar_from(from: &str, set_cookie: &[&str]) -> CookieJar {
        let mut jar = CookieJar::default();
        jar.store_response(&url(from), set_cookie.iter().map(|s| s.as_bytes()));
        jar.check_len();
        jar
    }

    impl CookieJar {
        fn header(&self, to: &str) -> Option<String> {
            self.request_header(&url(to))
        }

        fn check_len(&self) {
            assert_eq!(self.len, self.store.iter_any().count(), "len out of step");
        }
    }

    #[test]
    fn empty_jar_sends_nothing() {
        let jar = CookieJar::default();
        assert!(jar.is_empty());
        assert_eq!(jar.header("http://127.0.0.1/"), None);
        assert_eq!(jar.iter().count(), 0);
        assert_eq!(jar.get("a"), None);
    }

    #[test]
    fn cookies_go_back_to_their_host_in_one_header() {
        let jar = jar_from("http://127.0.0.1:8080/", &["b=2", "a=1; Path=/"]);
        assert!(!jar.is_empty());
        assert_eq!(
            jar.header("http://127.0.0.1:8080/x").as_deref(),
            Some("a=1; b=2")
        );
        // Ports are not part of a cookie's identity (RFC 6265 8.5).
        assert_eq!(
            jar.header("http://127.0.0.1:9090/").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(jar.get("a"), Some("1"));
        let mut all: Vec<_> = jar.iter().collect();
        all.sort();
        assert_eq!(all, [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn ip_and_localhost_cookies_stay_on_their_host() {
        let jar = jar_from("http://127.0.0.1/", &["ip=1"]);
        assert_eq!(jar.header("http://127.0.0.1/").as_deref(), Some("ip=1"));
        assert_eq!(jar.header("http://localhost/"), None);
        assert_eq!(jar.header("http://127.0.0.2/"), None);

        let jar = jar_from("http://localhost/", &["lh=1"]);
        assert_eq!(jar.header("http://localhost/").as_deref(), Some("lh=1"));
        assert_eq!(jar.header("http://127.0.0.1/"), None);
        assert_eq!(jar.header("http://a.localhost/"), None);
    }

    #[test]
    fn domain_on_an_ip_or_localhost_matches_only_itself() {
        let jar = jar_from(
            "http://127.0.0.1/",
            &["a=1; Domain=127.0.0.1", "b=1; Domain=0.0.1"],
        );
        assert_eq!(jar.header("http://127.0.0.1/").as_deref(), Some("a=1"));
        assert_eq!(jar.header("http://27.0.0.1/"), None);

        let jar = jar_from("http://localhost/", &["a=1; Domain=localhost"]);
        assert_eq!(jar.header("http://localhost/").as_deref(), Some("a=1"));
        assert_eq!(jar.header("http://127.0.0.1/"), None);

        let jar = jar_from("http://localhost/", &["a=1; Domain=127.0.0.1"]);
        assert!(jar.is_empty());
    }

    #[test]
    fn host_only_cookie_goes_to_its_host_only() {
        let jar = jar_from("http://a.example.com/", &["h=1"]);
        assert_eq!(jar.header("http://a.example.com/").as_deref(), Some("h=1"));
        assert_eq!(jar.header("http://A.EXAMPLE.COM/").as_deref(), Some("h=1"));
        assert_eq!(jar.header("http://b.example.com/"), None);
        assert_eq!(jar.header("http://example.com/"), None);
        assert_eq!(jar.header("http://x.a.example.com/"), None);
    }

    #[test]
    fn domain_cookie_goes_to_the_domain_and_its_subdomains() {
        for domain in ["example.com", ".example.com", "EXAMPLE.com"] {
            let jar = jar_from("http://a.example.com/", &[&format!("d=1; Domain={domain}")]);
            for to in [
                "http://a.example.com/",
                "http://b.example.com/",
                "http://example.com/",
                "http://x.a.example.com/",
            ] {
                assert_eq!(jar.header(to).as_deref(), Some("d=1"), "{domain} to {to}");
            }
            assert_eq!(jar.header("http://notexample.com/"), None);
            assert_eq!(jar.header("http://example.org/"), None);
        }
    }

    #[test]
    fn domain_of_another_host_or_a_top_level_domain_is_refused() {
        let jar = jar_from(
            "http://a.example.com/",
            &[
                "s=1; Domain=b.example.com",
                "o=1; Domain=example.org",
                "t=1; Domain=com",
            ],
        );
        assert!(jar.is_empty());
        assert_eq!(jar.header("http://b.example.com/"), None);
    }

    #[test]
    fn path_matches_itself_and_below_at_a_slash() {
        let jar = jar_from("http://h/", &["p=1; Path=/a"]);
        assert_eq!(jar.header("http://h/a").as_deref(), Some("p=1"));
        assert_eq!(jar.header("http://h/a/").as_deref(), Some("p=1"));
        assert_eq!(jar.header("http://h/a/b").as_deref(), Some("p=1"));
        assert_eq!(jar.header("http://h/a?q=1").as_deref(), Some("p=1"));
        assert_eq!(jar.header("http://h/ab"), None);
        assert_eq!(jar.header("http://h/"), None);
        assert_eq!(jar.header("http://h/b/a"), None);

        let jar = jar_from("http://h/", &["p=1; Path=/a/"]);
        assert_eq!(jar.header("http://h/a/b").as_deref(), Some("p=1"));
        assert_eq!(jar.header("http://h/a"), None);
    }

    #[test]
    fn default_path_is_the_request_directory() {
        let jar = jar_from("http://h/a/b", &["d=1", "r=1; Path=relative"]);
        assert_eq!(jar.header("http://h/a/c").as_deref(), Some("d=1; r=1"));
        assert_eq!(jar.header("http://h/a").as_deref(), Some("d=1; r=1"));
        assert_eq!(jar.header("http://h/"), None);
        assert_eq!(jar.header("http://h/ab"), None);

        let jar = jar_from("http://h/top", &["t=1"]);
        assert_eq!(jar.header("http://h/other").as_deref(), Some("t=1"));
    }

    #[test]
    fn longer_paths_come_first() {
        let jar = jar_from(
            "http://h/",
            &["a=root; Path=/", "z=deep; Path=/a/b", "m=mid; Path=/a"],
        );
        assert_eq!(
            jar.header("http://h/a/b/c").as_deref(),
            Some("z=deep; m=mid; a=root")
        );
    }

    #[test]
    fn same_name_on_other_paths_are_other_cookies() {
        let jar = jar_from("http://h/", &["s=root; Path=/", "s=api; Path=/api"]);
        assert_eq!(
            jar.header("http://h/api/x").as_deref(),
            Some("s=api; s=root")
        );
        assert_eq!(jar.header("http://h/").as_deref(), Some("s=root"));
        let mut jar = jar;
        jar.remove("s");
        assert!(jar.is_empty());
        jar.check_len();
    }

    #[test]
    fn max_age_zero_deletes() {
        let mut jar = jar_from("http://h/", &["a=1", "b=2"]);
        let u = url("http://h/");
        jar.store_response(&u, [b"a=gone; Max-Age=0".as_slice()].into_iter());
        jar.check_len();
        assert_eq!(jar.header("http://h/").as_deref(), Some("b=2"));
        assert_eq!(jar.get("a"), None);
        jar.store_response(&u, [b"b=; Max-Age=-1".as_slice()].into_iter());
        jar.check_len();
        assert!(jar.is_empty());
        assert_eq!(jar.header("http://h/"), None);
        // Deleting what is not there is no error.
        jar.set("http://h/", "c=1; Max-Age=0").unwrap();
        assert!(jar.is_empty());
    }

    #[test]
    fn max_age_zero_deletes_only_its_own_path() {
        let mut jar = jar_from("http://h/", &["s=root; Path=/", "s=api; Path=/api"]);
        jar.set("http://h/", "s=; Path=/api; Max-Age=0").unwrap();
        jar.check_len();
        assert_eq!(jar.header("http://h/api/x").as_deref(), Some("s=root"));
    }

    #[test]
    fn expires_in_the_past_is_not_sent_and_deletes() {
        let jar = jar_from(
            "http://h/",
            &[
                "old=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
                "new=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
            ],
        );
        assert_eq!(jar.header("http://h/").as_deref(), Some("new=1"));
        let mut jar = jar;
        jar.set("http://h/", "new=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap();
        assert!(jar.is_empty());
        jar.check_len();
    }

    #[test]
    fn max_age_wins_over_expires() {
        let jar = jar_from(
            "http://h/",
            &["a=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=3600"],
        );
        assert_eq!(jar.header("http://h/").as_deref(), Some("a=1"));
        let jar = jar_from(
            "http://h/",
            &["a=1; Max-Age=0; Expires=Fri, 31 Dec 9999 23:59:59 GMT"],
        );
        assert_eq!(jar.header("http://h/"), None);
    }

    #[test]
    fn secure_goes_over_https_only() {
        for from in ["https://example.com/", "http://example.com/"] {
            let jar = jar_from(from, &["s=1; Secure", "p=1"]);
            assert_eq!(
                jar.header("https://example.com/").as_deref(),
                Some("p=1; s=1")
            );
            assert_eq!(jar.header("http://example.com/").as_deref(), Some("p=1"));
        }
        // Not even to loopback over plain http (which cookie_store alone would allow).
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            let jar = jar_from(&format!("https://{host}/"), &["s=1; Secure"]);
            assert_eq!(jar.header(&format!("http://{host}/")), None, "{host}");
            assert_eq!(
                jar.header(&format!("https://{host}/")).as_deref(),
                Some("s=1")
            );
        }
    }

    #[test]
    fn http_only_cookies_are_sent() {
        let jar = jar_from("http://h/", &["a=1; HttpOnly; SameSite=Strict"]);
        assert_eq!(jar.header("http://h/").as_deref(), Some("a=1"));
    }

    #[test]
    fn a_later_set_cookie_replaces_the_earlier_one() {
        let mut jar = jar_from("http://h/", &["a=1", "a=2"]);
        assert_eq!(jar.header("http://h/").as_deref(), Some("a=2"));
        jar.set("http://h/", "a=3").unwrap();
        assert_eq!(jar.header("http://h/").as_deref(), Some("a=3"));
        assert_eq!(jar.iter().count(), 1);
        jar.check_len();
        // A Domain cookie of the same host, name and path replaces the host-only one.
        let mut jar = jar_from("http://a.example.com/", &["a=host"]);
        jar.set("http://a.example.com/", "a=dom; Domain=a.example.com")
            .unwrap();
        assert_eq!(
            jar.header("http://a.example.com/").as_deref(),
            Some("a=dom")
        );
        assert_eq!(
            jar.header("http://x.a.example.com/").as_deref(),
            Some("a=dom")
        );
        jar.check_len();
    }

    #[test]
    fn two_jars_are_independent() {
        let mut one = jar_from("http://h/", &["a=1"]);
        let mut two = CookieJar::default();
        two.set("http://h/", "b=2").unwrap();
        assert_eq!(one.header("http://h/").as_deref(), Some("a=1"));
        assert_eq!(two.header("http://h/").as_deref(), Some("b=2"));
        one.clear();
        assert!(one.is_empty());
        assert_eq!(two.header("http://h/").as_deref(), Some("b=2"));
        let copy = two.clone();
        two.remove("b");
        assert_eq!(copy.get("b"), Some("2"));
    }

    #[test]
    fn set_get_remove_clear() {
        let mut jar = CookieJar::default();
        jar.set("http://127.0.0.1:8080/", "session=abc; Path=/")
            .unwrap();
        jar.set("http://other.example/", "session=xyz").unwrap();
        jar.set("http://127.0.0.1:8080/", "theme=dark").unwrap();
        assert_eq!(
            jar.header("http://127.0.0.1:8080/").as_deref(),
            Some("session=abc; theme=dark")
        );
        assert!(matches!(jar.get("session"), Some("abc" | "xyz")));
        assert_eq!(jar.get("theme"), Some("dark"));
        assert_eq!(jar.get("none"), None);
        jar.remove("session");
        jar.check_len();
        assert_eq!(jar.get("session"), None);
        assert_eq!(jar.header("http://other.example/"), None);
        assert_eq!(jar.iter().collect::<Vec<_>>(), [("theme", "dark")]);
        jar.remove("none");
        jar.clear();
        assert!(jar.is_empty());
        assert_eq!(jar.header("http://127.0.0.1:8080/"), None);
        jar.check_len();
    }

    #[test]
    fn set_refuses_bad_urls_and_cookies() {
        let mut jar = CookieJar::default();
        for bad_url in [
            "",
            "not a url",
            "/relative",
            "localhost:8080",
            "mailto:a@b.c",
            "file:///tmp/x",
        ] {
            assert!(jar.set(bad_url, "a=1").is_err(), "{bad_url:?}");
        }
        for bad in [
            "",
            "novalue",
            "=1",
            "a=1\r\nX: y",
            "a=1; Domain=other.example",
        ] {
            let e = jar.set("http://h/", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("cookie not stored"),
                "{bad:?}: {e}"
            );
        }
        assert!(jar.is_empty());
    }

    #[test]
    fn garbage_set_cookie_is_dropped() {
        let huge = format!("big={}", "x".repeat(100 * 1024));
        let garbage: Vec<&[u8]> = vec![
            b"",
            b"   ",
            b";",
            b"noequals",
            b"=value",
            b"; Path=/",
            b"a\xff\xfe=1",
            b"\xc3\x28=1",
            b"a=\x80",
            b"a=1\x00",
            b"a=1; Domain=\xe2\x82",
            b"a=1; Domain=..",
            b"a=1; Domain=xn--",
            b"a=1; Max-Age=99999999999999999999999999",
            b"a=1; Expires=not a date",
            b"a=1; Max-Age=9223372036854775807; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
            huge.as_bytes(),
        ];
        let mut jar = CookieJar::default();
        let u = url("http://127.0.0.1/");
        jar.store_response(&u, garbage.iter().copied());
        jar.check_len();
        // Only those with an unparsable attribute are kept (the attribute ignored).
        assert_eq!(jar.request_header(&u).as_deref(), Some("a=1"));
        // Name and value of 4096 bytes is the most a cookie may have.
        let mut jar = CookieJar::default();
        let max = format!("m={}", "v".repeat(MAX_NAME_VALUE - 1));
        let over = format!("o={}", "v".repeat(MAX_NAME_VALUE));
        jar.store_response(&u, [max.as_bytes(), over.as_bytes()].into_iter());
        assert_eq!(jar.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["m"]);
    }

    #[test]
    fn utf8_values_are_kept_as_sent() {
        let jar = jar_from("http://h/", &["q=\"quoted\"", "u=h%C3%A9", "e=caf\u{e9}"]);
        assert_eq!(
            jar.header("http://h/").as_deref(),
            Some("e=caf\u{e9}; q=\"quoted\"; u=h%C3%A9")
        );
    }

    #[test]
    fn cookies_that_expired_since_are_not_sent_and_are_purged() {
        let mut jar = jar_from("http://h/", &["b=1", "a=1; Max-Age=3600"]);
        // Rebuild the store with `a` expired, as if an hour had passed.
        let cookies = jar.store.iter_any().cloned().map(|mut c| {
            if c.name() == "a" {
                c.expire();
            }
            Ok::<_, ()>(c)
        });
        jar.store = CookieStore::from_cookies(cookies.collect::<Vec<_>>(), true).unwrap();
        jar.check_len();
        assert_eq!(jar.get("a"), None);
        assert_eq!(jar.iter().collect::<Vec<_>>(), [("b", "1")]);
        assert_eq!(jar.header("http://h/").as_deref(), Some("b=1"));
        // The next response that sets cookies purges it.
        jar.store_response(&url("http://h/"), [b"c=1".as_slice()].into_iter());
        jar.check_len();
        assert_eq!(jar.len, 2);
    }

    #[test]
    fn debug_shows_names_not_values() {
        let jar = jar_from("http://h/", &["session=secret"]);
        let shown = format!("{jar:?}");
        assert!(
            shown.contains("session") && !shown.contains("secret"),
            "{shown}"
        );
    }
}
