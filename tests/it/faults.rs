//! Faults injected into the real AWS SDK clients, on either side of the emulator:
//!
//! - **unsent**: the request never reaches moto (its URI is pointed at a closed local port, so
//!   the SDK meets a refused connection, as when the network drops it);
//! - **lost answer**: moto applied the request, then its answer is replaced with a retryable
//!   `500 InternalFailure` (in `modify_before_deserialization`), as when a connection breaks
//!   after the write. The SDK's retry then meets the write's own effect.
//!
//! Either scripted (the next request of an operation gets one fault) or at a seeded rate.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Never reaches the emulator (connection refused).
    Unsent,
    /// Reaches it, is applied, and the answer is lost (a retryable 500 instead).
    LostAnswer,
}

/// This attempt's answer is to be lost (carried from transmit to deserialization).
#[derive(Debug, Clone, Copy)]
struct LoseAnswer(bool);

impl Storable for LoseAnswer {
    type Storer = StoreReplace<Self>;
}

/// The fault plan and what it did. Clones share both.
#[derive(Debug, Clone)]
pub struct Faults(Arc<Mutex<Plan>>);

#[derive(Debug)]
struct Plan {
    /// `(operation, fault)` for the next request of that operation, in order.
    script: VecDeque<(String, Fault)>,
    /// Per mille of requests that are unsent, and of those sent whose answer is lost.
    unsent_per_mille: u64,
    lost_per_mille: u64,
    /// Operations the rates apply to (all when empty).
    operations: Vec<String>,
    rng: Rng,
    /// A loopback port nothing listens on.
    closed_port: u16,
    injected: BTreeMap<(String, Fault), u64>,
}

impl Faults {
    fn new(seed: u64, unsent_per_mille: u64, lost_per_mille: u64) -> Self {
        // Bound, then released: nothing listens there.
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        Self(Arc::new(Mutex::new(Plan {
            script: VecDeque::new(),
            unsent_per_mille,
            lost_per_mille,
            operations: Vec::new(),
            rng: Rng::new(seed),
            closed_port,
            injected: BTreeMap::new(),
        })))
    }

    /// Exactly the scripted faults, nothing at random.
    pub fn scripted(script: &[(&str, Fault)]) -> Self {
        let faults = Self::new(1, 0, 0);
        faults.0.lock().unwrap().script = script
            .iter()
            .map(|(operation, fault)| ((*operation).to_owned(), *fault))
            .collect();
        faults
    }

    /// Each request of `operations` (all when empty) is unsent with probability
    /// `unsent_per_mille`/1000 and, if sent, loses its answer with `lost_per_mille`/1000.
    pub fn seeded(
        seed: u64,
        unsent_per_mille: u64,
        lost_per_mille: u64,
        operations: &[&str],
    ) -> Self {
        let faults = Self::new(seed, unsent_per_mille, lost_per_mille);
        faults.0.lock().unwrap().operations =
            operations.iter().map(|op| (*op).to_owned()).collect();
        faults
    }

    /// How many faults were injected, by operation and kind.
    pub fn injected(&self) -> BTreeMap<(String, Fault), u64> {
        self.0.lock().unwrap().injected.clone()
    }

    /// The total of [`Faults::injected`] of one kind.
    pub fn total(&self, fault: Fault) -> u64 {
        Self::total_of(&self.injected(), fault)
    }

    /// The total of one kind in an [`Faults::injected`] map.
    pub fn total_of(injected: &BTreeMap<(String, Fault), u64>, fault: Fault) -> u64 {
        injected
            .iter()
            .filter(|((_, f), _)| *f == fault)
            .map(|(_, n)| n)
            .sum()
    }

    /// A copy of `app` whose AWS clients go through this plan, retrying as the functions' clients
    /// do (standard mode, 3 attempts) but with a 10 ms initial backoff instead of 1 s, so a test
    /// with hundreds of faults stays short.
    pub fn app(&self, app: &shared::App) -> Arc<shared::App> {
        let retry = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
            .with_initial_backoff(std::time::Duration::from_millis(10));
        crate::helpers::app_with(app, self, Some(retry))
    }

    /// The fault for the next request of `operation`, if any.
    fn draw(&self, operation: &str) -> Option<Fault> {
        let mut plan = self.0.lock().unwrap();
        if let Some(index) = plan.script.iter().position(|(op, _)| op == operation) {
            return plan.script.remove(index).map(|(_, fault)| fault);
        }
        if !plan.operations.is_empty() && !plan.operations.iter().any(|op| op == operation) {
            return None;
        }
        let (unsent, lost) = (plan.unsent_per_mille, plan.lost_per_mille);
        if plan.next_per_mille() < unsent {
            Some(Fault::Unsent)
        } else if plan.next_per_mille() < lost {
            Some(Fault::LostAnswer)
        } else {
            None
        }
    }

    fn count(&self, operation: &str, fault: Fault) {
        *self
            .0
            .lock()
            .unwrap()
            .injected
            .entry((operation.to_owned(), fault))
            .or_default() += 1;
    }
}

impl Plan {
    /// A uniform draw in 0..1000.
    fn next_per_mille(&mut self) -> u64 {
        self.rng.below(1000)
    }
}

/// A seeded xorshift64 generator: the same seed, the same draws.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A uniform draw in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap();
            items.swap(i, j);
        }
    }
}

/// The operation of a JSON-protocol request (`PutItem`, `SendMessage`, …).
pub fn operation(headers: &aws_smithy_runtime_api::http::Headers) -> String {
    headers
        .get("x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("?")
        .to_owned()
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "Faults"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(context.request().headers());
        let fault = self.draw(&operation);
        config
            .interceptor_state()
            .store_put(LoseAnswer(fault == Some(Fault::LostAnswer)));
        match fault {
            Some(Fault::Unsent) => {
                let mut uri = url::Url::parse(context.request().uri())?;
                let port = self.0.lock().unwrap().closed_port;
                uri.set_host(Some("127.0.0.1"))?;
                uri.set_port(Some(port))
                    .map_err(|()| "the URI takes no port")?;
                context.request_mut().set_uri(uri.as_str())?;
                self.count(&operation, Fault::Unsent);
            }
            Some(Fault::LostAnswer) => self.count(&operation, Fault::LostAnswer),
            None => {}
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if config.load::<LoseAnswer>().is_some_and(|lose| lose.0) {
            let response = context.response_mut();
            *response.status_mut() = aws_smithy_runtime_api::http::StatusCode::try_from(500)?;
            let headers = response.headers_mut();
            headers.remove("content-length");
            headers.remove("x-amz-crc32");
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"InternalFailure","message":"injected: the answer was lost"}"#,
            );
        }
        Ok(())
    }
}
