//! [`EmergencyGate`]: admission that refuses every call to a provider whose emergency mode is on
//! (`docs/architecture.md`, "Emergency mode"), before the admission behind it is asked: no
//! token is taken, no breaker probe is spent and no request leaves. The refusal is
//! [`ClientError::EmergencyMode`] (`emergency_mode`), which the client does not retry.
//!
//! Services are named after their provider (`whop`), as the breakers are, so the switch of
//! provider `p` gates service `p`.

use std::sync::Arc;

use super::{Admission, CallOutcome, ClientError, Permit};
use crate::domain::emergency::EmergencySwitch;
use crate::domain::ports::{Clock, EmergencyStore};

/// `inner` admission behind the emergency switches.
pub struct EmergencyGate<A, S, C> {
    inner: A,
    switch: Arc<EmergencySwitch<S, C>>,
}

impl<A, S, C> std::fmt::Debug for EmergencyGate<A, S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencyGate").finish_non_exhaustive()
    }
}

impl<A: Admission, S: EmergencyStore, C: Clock> EmergencyGate<A, S, C> {
    pub const fn new(inner: A, switch: Arc<EmergencySwitch<S, C>>) -> Self {
        Self { inner, switch }
    }

    /// The admission behind the gate (e.g. a [`super::ProviderGuard`] whose breakers to report).
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

impl<A: Admission, S: EmergencyStore, C: Clock> Admission for EmergencyGate<A, S, C> {
    async fn admit(&self, service: &'static str) -> Result<Permit, ClientError> {
        if let Some(emergency) = self.switch.active(service).await {
            tracing::info!(
                service,
                until = %emergency.expires_at,
                "emergency mode is on for {service}; call not sent"
            );
            return Err(ClientError::EmergencyMode { service });
        }
        self.inner.admit(service).await
    }

    async fn record(&self, service: &'static str, outcome: CallOutcome) {
        self.inner.record(service, outcome).await;
    }
}
