//! The stack's routes called as a creator (README "Gumroad", "Amazon KDP"): a session token, the
//! stack's base URL and the company the call is for. `churnsaver gumroad` and `churnsaver kdp`
//! send through [`Creator::send`] and read answers with [`answer`].

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// The stack and the creator a command acts for.
#[derive(Debug, Clone)]
pub struct Creator {
    /// The stack's HTTP API base URL.
    pub base_url: String,
    /// A session token of the creator.
    pub token: String,
    /// The company the calls are for (`?company_id=`); none for a route that does without.
    pub company_id: Option<String>,
}

/// How a command waits for the stack (a callback, a job): the longest wait, and the pause
/// between two reads.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    /// The longest wait.
    pub timeout: Duration,
    /// Between two reads of the status route.
    pub every: Duration,
}

impl Creator {
    fn url(&self, path: &str) -> anyhow::Result<reqwest::Url> {
        let mut url =
            reqwest::Url::parse(&format!("{}{path}", self.base_url.trim_end_matches('/')))
                .with_context(|| format!("the stack URL {}", self.base_url))?;
        if let Some(company_id) = &self.company_id {
            url.query_pairs_mut().append_pair("company_id", company_id);
        }
        Ok(url)
    }

    /// `method` at `path` of the stack with the creator's session and `body` as JSON, if any
    /// (redirects are not followed by [`http()`](http())'s client).
    pub async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = http
            .request(method, self.url(path)?)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .with_context(|| format!("calling {path} on the stack"))
    }
}

/// A client that does not follow redirects (each one is looked at).
pub fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")
}

/// The JSON of a 2xx answer; the stack's error code and message otherwise.
pub async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let error = &body["error"];
    bail!(
        "the stack answered {status}: {} ({})",
        error["message"].as_str().unwrap_or("no message"),
        error["code"].as_str().unwrap_or("no code")
    )
}
