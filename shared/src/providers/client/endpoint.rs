//! A provider call's `endpoint` metric dimension: the method and the URL's path with every
//! segment that may be an id replaced by `{id}`, so the dimension has as few values as the
//! provider has routes, whatever ids the calls carry. The query is dropped.

/// `GET /v2/sales/{id}` for `GET https://api.gumroad.com/v2/sales/AbC123==?x=1`.
pub fn endpoint(method: &reqwest::Method, url: &reqwest::Url) -> String {
    let mut label = String::from(method.as_str());
    label.push(' ');
    let segments: Vec<&str> = url
        .path()
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    if segments.is_empty() {
        label.push('/');
    }
    for segment in segments {
        label.push('/');
        label.push_str(if is_route_word(segment) {
            segment
        } else {
            "{id}"
        });
    }
    label
}

/// A segment kept as it is: a word of a route (`memberships`, `Messages.json`,
/// `.well-known`) or a short lower-case version (`v1`, `oauth2`). Anything else (digits in a
/// longer segment, upper case with digits, `=`, `%`, a long run of letters) may be an id.
fn is_route_word(segment: &str) -> bool {
    const LONGEST_WORD: usize = 32;
    const LONGEST_VERSION: usize = 8;
    let word = segment.len() <= LONGEST_WORD
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.'));
    let version = segment.len() <= LONGEST_VERSION
        && segment.starts_with(|c: char| c.is_ascii_lowercase())
        && segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    word || version
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(method: &str, url: &str) -> String {
        endpoint(
            &reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            &reqwest::Url::parse(url).unwrap(),
        )
    }

    #[test]
    fn ids_of_every_providers_paths_become_id_and_route_words_stay() {
        let cases = [
            (
                "GET",
                "https://api.whop.com/api/v5/company/memberships?page=2",
                "GET /api/v5/company/memberships",
            ),
            (
                "GET",
                "https://api.whop.com/api/v1/memberships/mem_9aB3xYz",
                "GET /api/v1/memberships/{id}",
            ),
            (
                "GET",
                "https://api.stripe.com/v1/subscriptions/sub_1NqKxLEk",
                "GET /v1/subscriptions/{id}",
            ),
            (
                "GET",
                "https://api.gumroad.com/v2/sales/Fo8TxN-12ab==",
                "GET /v2/sales/{id}",
            ),
            (
                "POST",
                "https://api-m.paypal.com/v1/oauth2/token",
                "POST /v1/oauth2/token",
            ),
            (
                "GET",
                "https://api-m.paypal.com/v1/billing/subscriptions/I-BW452GLLEP1G",
                "GET /v1/billing/subscriptions/{id}",
            ),
            (
                "POST",
                "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef/Messages.json",
                "POST /{id}/Accounts/{id}/Messages.json",
            ),
            ("POST", "https://api.resend.com/emails", "POST /emails"),
            (
                "GET",
                "https://api.whop.com/.well-known/jwks.json",
                "GET /.well-known/jwks.json",
            ),
            ("GET", "http://127.0.0.1:9000", "GET /"),
            (
                "GET",
                "https://example.com/users/abcdefghijklmnopqrstuvwxyzabcdefgh/x%20y",
                "GET /users/{id}/{id}",
            ),
        ];
        for (method, url, expected) in cases {
            assert_eq!(label(method, url), expected, "{url}");
        }
    }
}
