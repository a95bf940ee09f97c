//! Request and response bodies (placeholder until the body helpers land).

use bytes::Bytes;

use super::HttpError;

pub(crate) fn encode_query<T: serde::Serialize + ?Sized>(query: &T) -> Result<String, HttpError> {
    serde_urlencoded::to_string(query).map_err(|e| HttpError(format!("invalid query: {e}")))
}

pub(crate) fn append_query(path: &mut String, encoded: &str) {
    if encoded.is_empty() {
        return;
    }
    path.push(if path.contains('?') { '&' } else { '?' });
    path.push_str(encoded);
}

pub(crate) fn encode_form<T: serde::Serialize + ?Sized>(form: &T) -> Result<Bytes, HttpError> {
    encode_query(form).map(Bytes::from)
}

pub(crate) fn encode_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, HttpError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| HttpError(format!("invalid JSON body: {e}")))
}

pub(crate) fn basic_auth(user: &str, password: Option<&str>) -> String {
    use base64::Engine;
    let creds = format!("{user}:{}", password.unwrap_or(""));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    )
}

pub(crate) fn decode(_coding: &[u8], body: Bytes, _limit: usize) -> Result<Bytes, HttpError> {
    Ok(body)
}
