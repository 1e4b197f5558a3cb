//! HTTP adapters over `reqwest` (rustls).

use std::time::Duration;

use url::Url;

use crate::domain::ports::{DependencyError, EndpointProbe};

impl EndpointProbe for reqwest::Client {
    async fn probe(&self, url: &Url, timeout: Duration) -> Result<u16, DependencyError> {
        let response = self
            .get(url.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| request_error(&e))?;
        Ok(response.status().as_u16())
    }
}

/// Classifies a `reqwest` error without leaking the URL or the peer's address.
pub(crate) fn request_error(error: &reqwest::Error) -> DependencyError {
    if error.is_timeout() {
        DependencyError::Timeout
    } else if error.is_connect() {
        DependencyError::Unreachable("connection failed".to_owned())
    } else {
        DependencyError::Other("request failed".to_owned())
    }
}
