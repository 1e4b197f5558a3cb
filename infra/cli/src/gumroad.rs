//! `churnsaver gumroad …` (README "Gumroad"): a creator's Gumroad connection through the stack's
//! own routes, with a session of theirs. `connect` calls `GET /connections/gumroad/start`, then
//! follows Gumroad's authorization page when it sends straight back to the callback (the local
//! stack's stand-in approves at once); a real Gumroad asks its user to sign in and approve, so its
//! page is printed for the person to open, and the connection status route is polled until the
//! callback has stored a new connection.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;

use crate::creator::answer;
pub use crate::creator::{Creator, Waiting, http};

impl Creator {
    /// The company's connection (`GET /connections/gumroad`); `None` when there is none.
    pub async fn status(&self, http: &reqwest::Client) -> anyhow::Result<Option<Value>> {
        let response = self
            .send(http, reqwest::Method::GET, "/connections/gumroad", None)
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer(response).await.map(Some)
    }

    /// Removes the company's connection (`DELETE /connections/gumroad`).
    pub async fn disconnect(&self, http: &reqwest::Client) -> anyhow::Result<Value> {
        let response = self
            .send(http, reqwest::Method::DELETE, "/connections/gumroad", None)
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
            .send(
                http,
                reqwest::Method::GET,
                "/connections/gumroad/start",
                None,
            )
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

fn redirect(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    response.url().join(location).ok().map(String::from)
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
