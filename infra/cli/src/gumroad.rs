//! `churnsaver gumroad …` (README "Gumroad"): a creator's Gumroad connection through the stack's
//! own routes, with a session of theirs. `connect` calls `GET /connections/gumroad/start`, then
//! follows Gumroad's authorization page when it sends straight back to the callback (the local
//! stack's stand-in approves at once); a real Gumroad asks its user to sign in and approve, so its
//! page is printed for the person to open, and the connection status route is polled until the
//! callback has stored a new connection.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;

/// The stack and the creator a command acts for.
#[derive(Debug, Clone)]
pub struct Creator {
    /// The stack's HTTP API base URL.
    pub base_url: String,
    /// A session token of the creator.
    pub token: String,
    /// The company the connection is for.
    pub company_id: String,
}

/// How `connect` waits for a callback it cannot follow itself.
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
        url.query_pairs_mut()
            .append_pair("company_id", &self.company_id);
        Ok(url)
    }

    /// `method` at `path` of the stack with the creator's session (redirects not followed).
    async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<reqwest::Response> {
        http.request(method, self.url(path)?)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("calling {path} on the stack"))
    }

    /// The company's connection (`GET /connections/gumroad`); `None` when there is none.
    pub async fn status(&self, http: &reqwest::Client) -> anyhow::Result<Option<Value>> {
        let response = self
            .send(http, reqwest::Method::GET, "/connections/gumroad")
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer(response).await.map(Some)
    }

    /// Removes the company's connection (`DELETE /connections/gumroad`).
    pub async fn disconnect(&self, http: &reqwest::Client) -> anyhow::Result<Value> {
        let response = self
            .send(http, reqwest::Method::DELETE, "/connections/gumroad")
            .await?;
        answer(response).await
    }

    /// Connects the company: the connection as the stack stored it. `open` is handed Gumroad's
    /// authorization page when it does not send straight back to the callback.
    pub async fn connect(
        &self,
        http: &reqwest::Client,
        waiting: Waiting,
        open: impl FnOnce(&str),
    ) -> anyhow::Result<Value> {
        let before = self.status(http).await?.map(|c| c["connected_at"].clone());
        let started = self
            .send(http, reqwest::Method::GET, "/connections/gumroad/start")
            .await?;
        let Some(authorize) = redirect(&started) else {
            answer(started).await?;
            bail!("the stack did not redirect to Gumroad");
        };
        let callback = format!(
            "{}/connections/gumroad/callback?",
            self.base_url.trim_end_matches('/')
        );
        let approved = http.get(&authorize).send().await.ok();
        if let Some(back) = approved
            .as_ref()
            .and_then(redirect)
            .filter(|location| location.starts_with(&callback))
        {
            let response = http
                .get(&back)
                .bearer_auth(&self.token)
                .send()
                .await
                .context("completing the connection")?;
            return answer(response).await;
        }
        open(&authorize);
        let deadline = tokio::time::Instant::now() + waiting.timeout;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(waiting.every).await;
            if let Some(connection) = self.status(http).await?
                && Some(&connection["connected_at"]) != before.as_ref()
            {
                return Ok(connection);
            }
        }
        bail!(
            "no new connection after {} s: was the authorization page approved?",
            waiting.timeout.as_secs()
        )
    }
}

/// A client that does not follow redirects (each one is looked at).
pub fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")
}

fn redirect(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    response.url().join(location).ok().map(String::from)
}

/// The JSON of a 2xx answer; the stack's error code and message otherwise.
async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
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

/// A connection as the commands print it.
pub fn describe(connection: &Value) -> String {
    let field = |name: &str| match &connection[name] {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    format!(
        "company {}: Gumroad seller {}, {}, {} resource subscriptions registered, initial sync {}",
        field("company_id"),
        field("seller_id"),
        field("status"),
        field("resource_subscriptions"),
        field("initial_sync"),
    )
}
