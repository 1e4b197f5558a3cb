//! HTTP adapters over `reqwest` (rustls).

use std::time::Duration;

use url::Url;

use crate::ports::{DependencyError, EndpointProbe};

impl EndpointProbe for reqwest::Client {
    async fn probe(&self, url: &Url, timeout: Duration) -> Result<u16, DependencyError> {
        let response = self
            .get(url.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    DependencyError::Timeout
                } else if e.is_connect() {
                    DependencyError::Unreachable("connection failed".to_owned())
                } else {
                    DependencyError::Other("request failed".to_owned())
                }
            })?;
        Ok(response.status().as_u16())
    }
}
