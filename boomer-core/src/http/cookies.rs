//! A user's cookie jar (placeholder until the cookie jar lands).

/// A user's cookies.
#[derive(Default)]
pub struct CookieJar {
    store: cookie_store::CookieStore,
}

impl CookieJar {
    pub(crate) fn store_response<'a>(
        &mut self,
        url: &url::Url,
        set_cookie: impl Iterator<Item = &'a [u8]>,
    ) {
        let cookies = set_cookie
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter_map(|v| cookie_store::RawCookie::parse(v.to_string()).ok());
        self.store.store_response_cookies(cookies, url);
    }

    pub(crate) fn request_header(&self, url: &url::Url) -> Option<String> {
        let parts: Vec<String> = self
            .store
            .get_request_values(url)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.store.iter_any().next().is_none()
    }

    /// The value of the cookie `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.store
            .iter_unexpired()
            .find(|c| c.name() == name)
            .map(|c| c.value())
    }
}
