//! Running sync: starting a run, working one page job, and syncing one membership.

use crate::domain::companies::known::{NoKnownCompanies, schedule_targets};
use crate::domain::ports::{KnownCompanies, NoSales, SalesStore, SyncStore};

use crate::domain::ports::StateStore;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};

use super::{
    PageJob, RunStatus, Scope, StartRun, SyncCounts, SyncProvider, SyncRun, Verdict,
    observation_of, verdict,
};
use crate::domain::metrics::Metrics;
use crate::domain::metrics::catalogue as names;
use crate::domain::notify::Job;
use crate::domain::notify::company::SyncEnd;
use crate::domain::ports::{
    Clock, DependencyError, InboundMessage, ListedMembership, MembershipSource,
    MembershipSourceError, Publisher, SourceFailure,
};
use crate::domain::state::model::Observation;
use crate::domain::state::store::{StoredMembership, Upkeep, record_and_upkeep, write_upkeep};
use crate::domain::time::parse_time_str;
use crate::domain::webhooks::Source;

/// How long a run holds its scope's lock without progress; each page or pause extends it. A run
/// whose chain of jobs was lost stops blocking new runs after this.
pub const LEASE: TimeDelta = TimeDelta::hours(1);
/// A page is put off at most this many times (about 12 hours at the longest delay) before the
/// run fails.
pub const MAX_DEFERRALS: u32 = 48;
/// How long a page waits when the provider said nothing about when to come back.
pub const DEFAULT_DEFERRAL: Duration = Duration::from_secs(60);
/// The longest an SQS message can be delayed.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(900);
/// Drift writes of one page in flight at once.
const WRITE_CONCURRENCY: usize = 32;

/// Why a sync request or job failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync is not configured: {0}")]
    Unconfigured(&'static str),
    #[error("a sync of this scope is already running ({run_id})")]
    InProgress { run_id: String },
    #[error("synced moments ago; again in {} s", retry_after.as_secs())]
    TooSoon { retry_after: Duration },
    /// Unknown, another company's or another user's: one answer, so it says nothing about
    /// memberships that are not the requester's.
    #[error("unknown membership")]
    NotFound,
    /// The company a user's sync names is not one this deployment keeps (unknown or revoked).
    #[error("unknown company")]
    UnknownCompany,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Api(#[from] MembershipSourceError),
    #[error("state store: {0}")]
    Store(#[from] DependencyError),
    #[error("sync-jobs queue: {0}")]
    Queue(DependencyError),
}

/// What working one page job did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PageOutcome {
    /// The page was reconciled and counted.
    Counted { counts: SyncCounts, completed: bool },
    /// Another delivery of this job already counted the page.
    AlreadyDone,
    /// The run had ended (or is unknown); nothing to do.
    RunEnded,
    /// The provider cannot be called now; the same page comes back after `delay_secs`.
    Deferred { delay_secs: u64, error: String },
    /// The provider refused the listing for good; the run failed.
    Failed { error: String },
}

/// What syncing one membership found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipSync {
    pub membership_id: String,
    /// `unchanged`, `drifted`, `newer_locally` or `skipped`.
    pub result: &'static str,
    /// The fields that differed.
    pub fields: Vec<&'static str>,
}

/// `POST /sync`: a reconcile of the caller's memberships, or of one of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    #[serde(default)]
    pub provider: Option<String>,
    /// Only memberships created after this time (RFC 3339 or Unix seconds).
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub membership_id: Option<String>,
    /// The company whose memberships (of the caller) to sync: a known company; the default
    /// company (`WHOP_COMPANY_ID`) when absent.
    #[serde(default)]
    pub company_id: Option<String>,
}

/// The answer to `POST /sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SyncStarted {
    Run { run_id: String, status: RunStatus },
    Membership(MembershipSync),
}

/// What the schedule did for one company at one provider.
#[derive(Debug)]
pub struct ScheduledRun {
    pub company_id: String,
    /// `whop`, `gumroad` or `stripe`.
    pub provider: &'static str,
    pub started: Result<SyncRun, SyncError>,
}

/// Sync over its ports: the providers' membership APIs (one [`MembershipSource`] that lists
/// each scope at its provider), the state store, the run store, the `sync-jobs` queue, the known
/// companies and the sales events.
pub struct Syncer<M, S, R, P, N = NoKnownCompanies, L = NoSales> {
    pub api: M,
    pub state: S,
    pub runs: R,
    pub publisher: P,
    pub queue_url: String,
    /// The stack's default company (`WHOP_COMPANY_ID`): the scope of users' own syncs and of the
    /// CLI's, and scheduled with the known companies.
    pub company_id: Option<String>,
    /// The companies the schedule reconciles; a company whose access was revoked is marked here.
    pub known: N,
    /// `NOTIFICATIONS_QUEUE_URL`: where the end of a company's run is told (none: not told).
    pub notifications_queue: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// How long a page waits when the provider cannot be called and said nothing about when to
    /// come back ([`DEFAULT_DEFERRAL`]).
    pub deferral: Duration,
    /// Where the sales a listing reads are written ([`NoSales`]: a listing without sales).
    pub sales: L,
}

impl<M, S, R, P, N, L> Syncer<M, S, R, P, N, L>
where
    M: MembershipSource,
    S: StateStore,
    R: SyncStore,
    P: Publisher,
    N: KnownCompanies,
    L: SalesStore,
{
    /// A scope over the default company; unconfigured without one.
    pub fn scope(
        &self,
        user_id: Option<String>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Scope, SyncError> {
        let company_id = self
            .company_id
            .clone()
            .ok_or(SyncError::Unconfigured("WHOP_COMPANY_ID is not set"))?;
        Ok(Scope {
            user_id,
            since,
            ..Scope::company(company_id)
        })
    }

    /// The schedule's reconcile: one run per known company that is not revoked, and the default
    /// company unless it is revoked ([`schedule_targets`]), each started on its own (a company
    /// whose run is still going is skipped by its lock). Fails only when the known companies
    /// cannot be read.
    pub async fn start_scheduled(&self) -> Result<Vec<ScheduledRun>, SyncError> {
        let known = self.known.known_companies().await?;
        let scopes = schedule_targets(&known, self.company_id.as_deref())
            .into_iter()
            .map(Scope::company)
            .collect();
        Ok(self.start_each(scopes, "schedule").await)
    }

    /// Starts a run of each scope on its own (the schedule's Gumroad runs: one per active
    /// connection, next to [`Self::start_scheduled`]'s).
    pub async fn start_each(&self, scopes: Vec<Scope>, trigger: &str) -> Vec<ScheduledRun> {
        let mut runs = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let (company_id, provider) = (scope.company_id.clone(), scope.provider.as_str());
            let started = self.start(scope, trigger.to_owned()).await;
            runs.push(ScheduledRun {
                company_id,
                provider,
                started,
            });
        }
        runs
    }

    /// `POST /sync` by `user_id`: one of their memberships now, or a run over all of theirs.
    pub async fn request(
        &self,
        user_id: &str,
        request: SyncRequest,
    ) -> Result<SyncStarted, SyncError> {
        if let Some(provider) = request.provider.as_deref()
            && provider != super::PROVIDER
        {
            return Err(SyncError::BadRequest(format!(
                "`{provider}` cannot be synced; only `whop` can"
            )));
        }
        let since = parse_since(request.since.as_deref())?;
        let company_id = self.user_company(request.company_id.as_deref()).await?;
        if let Some(membership_id) = request.membership_id {
            if !self.api.is_membership_id(&membership_id) {
                return Err(SyncError::BadRequest(format!(
                    "`{membership_id}` is not a Whop membership id (`mem_…`)"
                )));
            }
            if since.is_some() {
                return Err(SyncError::BadRequest(
                    "`since` and `membership_id` exclude each other".into(),
                ));
            }
            return self
                .sync_membership_as_run(&membership_id, user_id, &company_id)
                .await
                .map(SyncStarted::Membership);
        }
        let scope = Scope {
            user_id: Some(user_id.to_owned()),
            since,
            ..Scope::company(company_id)
        };
        let run = self.start(scope, format!("user:{user_id}")).await?;
        Ok(SyncStarted::Run {
            run_id: run.run_id,
            status: run.status,
        })
    }

    /// The company a user's sync is over: the one `named`, which must be known and not revoked
    /// (one listing of the known companies), or else the default company.
    async fn user_company(&self, named: Option<&str>) -> Result<String, SyncError> {
        let Some(named) = named else {
            return self.company_id.clone().ok_or_else(|| {
                SyncError::BadRequest(
                    "name the company whose memberships to sync: `company_id`".into(),
                )
            });
        };
        if self.company_id.as_deref() == Some(named) {
            return Ok(named.to_owned());
        }
        let known = self.known.known_companies().await?;
        if known
            .iter()
            .any(|c| c.company_id == named && c.revoked.is_none())
        {
            Ok(named.to_owned())
        } else {
            Err(SyncError::UnknownCompany)
        }
    }

    /// A user's sync of one of their memberships in `company_id`, as a one-page run of their
    /// scope: it waits for their other syncs and counts towards their cooldown like any run, so
    /// a loop of single syncs cannot spend the calls the company's runs need.
    async fn sync_membership_as_run(
        &self,
        membership_id: &str,
        user_id: &str,
        company_id: &str,
    ) -> Result<MembershipSync, SyncError> {
        let scope = Scope {
            user_id: Some(user_id.to_owned()),
            ..Scope::company(company_id.to_owned())
        };
        let run = self.claim(scope, format!("user:{user_id}")).await?;
        let synced = self
            .sync_membership(membership_id, Some(user_id), company_id)
            .await;
        let now = self.clock.now();
        match &synced {
            Ok(synced) => {
                let mut counts = SyncCounts {
                    seen: 1,
                    ..SyncCounts::default()
                };
                match synced.result {
                    "drifted" => counts.drifted = 1,
                    "newer_locally" => counts.newer_locally = 1,
                    "skipped" => counts.skipped = 1,
                    _ => counts.unchanged = 1,
                }
                if let Some(counted) = self
                    .runs
                    .page_done(&run, 0, &counts, None, now, now + LEASE)
                    .await?
                {
                    self.complete_if_done(&counted).await?;
                }
            }
            Err(error) => {
                let code = match error {
                    SyncError::Api(error) => error.code(),
                    SyncError::NotFound => "not_found",
                    _ => "failed",
                };
                self.end_run(&run, RunStatus::Failed, Some(code), now)
                    .await?;
            }
        }
        synced
    }

    /// Starts a run of `scope`: stores it, takes the scope's lock and sends its first page job.
    pub async fn start(&self, scope: Scope, trigger: String) -> Result<SyncRun, SyncError> {
        let run = self.claim(scope, trigger).await?;
        let first = PageJob {
            run_id: run.run_id.clone(),
            page: 0,
            cursor: None,
            deferrals: 0,
        };
        if let Err(error) = self.send(&first, None).await {
            // Without its first job the run would hold the lock for nothing.
            if let Err(finish_error) = self
                .end_run(
                    &run,
                    RunStatus::Failed,
                    Some("enqueue_failed"),
                    self.clock.now(),
                )
                .await
            {
                tracing::error!(%finish_error, run.id = %run.run_id, "could not end a run that never started");
            }
            return Err(SyncError::Queue(error));
        }
        tracing::info!(run.id = %run.run_id, trigger = %run.trigger, scope = %run.scope.lock_key(), "sync run started");
        Ok(run)
    }

    /// Stores a new run of `scope` holding the scope's lock; refused while another run holds it
    /// (or, for a user, during the cooldown after their last one).
    async fn claim(&self, scope: Scope, trigger: String) -> Result<SyncRun, SyncError> {
        let now = self.clock.now();
        let run = SyncRun::new(scope, trigger, now);
        match self.runs.start_run(&run, now + LEASE).await? {
            StartRun::Held { run_id, until } => {
                let ended = self
                    .runs
                    .run(&run_id)
                    .await?
                    .is_some_and(|holder| holder.status.is_finished());
                return Err(if ended {
                    SyncError::TooSoon {
                        retry_after: (until - now).to_std().unwrap_or(Duration::ZERO),
                    }
                } else {
                    SyncError::InProgress { run_id }
                });
            }
            StartRun::Started => {}
        }
        Ok(run)
    }

    /// Works one page job. `Err` means "try this job again" (the queue redelivers it).
    pub async fn run_page(&self, job: &PageJob) -> Result<PageOutcome, SyncError> {
        let Some(run) = self.runs.run(&job.run_id).await? else {
            tracing::warn!(run.id = %job.run_id, "page job of an unknown run dropped");
            return Ok(PageOutcome::RunEnded);
        };
        if run.status.is_finished() {
            return Ok(PageOutcome::RunEnded);
        }
        if run.done_pages.contains(&job.page) {
            // The delivery that counted it may have died before ending the run.
            self.complete_if_done(&run).await?;
            return Ok(PageOutcome::AlreadyDone);
        }
        let listing = self
            .api
            .list_memberships(&run.scope, job.cursor.as_deref())
            .await;
        let page = match listing {
            Ok(page) => page,
            Err(error) if error.is_retryable() => return self.defer(&run, job, &error).await,
            Err(error) => {
                let code = error.code();
                tracing::error!(run.id = %run.run_id, page = job.page, %error, "the provider refused the listing; the run failed");
                let now = self.clock.now();
                if error.failure == SourceFailure::AccessRevoked {
                    // Not scheduled again until a webhook or an admin makes it known again.
                    self.known.revoke(&run.scope.company_id, code, now).await?;
                    tracing::warn!(company.id = %run.scope.company_id, reason = code, "the company's access was revoked; it is no longer scheduled");
                }
                self.end_run(&run, RunStatus::Failed, Some(code), now)
                    .await?;
                return Ok(PageOutcome::Failed {
                    error: code.to_owned(),
                });
            }
        };
        // An empty page, or a cursor that does not move, ends the listing: a provider echoing
        // its cursor must not keep a run going (and spending calls) for ever.
        let next = page
            .next_cursor
            .as_deref()
            .filter(|cursor| !page.is_empty() && Some(*cursor) != job.cursor.as_deref())
            .map(str::to_owned);
        if next.is_none() && page.next_cursor.is_some() {
            tracing::warn!(run.id = %run.run_id, page = job.page, "the listing's cursor did not move; treated as its end");
        }
        let source = match run.scope.provider {
            SyncProvider::Whop => Source::Whop,
            SyncProvider::Gumroad { .. } => Source::Gumroad,
            SyncProvider::Stripe => Source::Stripe,
            SyncProvider::PayPal => Source::PayPal,
        };
        let mut counts = self.reconcile(source, &page.memberships).await?;
        if !page.sales.is_empty() {
            counts.sales_recorded = self.sales.record(&page.sales).await?;
        }
        // Sent after the page's writes and before it is counted: one page of a run is in flight
        // at a time (one client's rate limit holds), and a crash in between repeats the page,
        // which is idempotent, rather than ending the run.
        if let Some(cursor) = &next {
            let next_job = PageJob {
                run_id: run.run_id.clone(),
                page: job.page + 1,
                cursor: Some(cursor.clone()),
                deferrals: 0,
            };
            self.send(&next_job, None).await.map_err(SyncError::Queue)?;
        }
        let now = self.clock.now();
        let Some(updated) = self
            .runs
            .page_done(&run, job.page, &counts, next.as_deref(), now, now + LEASE)
            .await?
        else {
            if let Some(current) = self.runs.run(&run.run_id).await? {
                self.complete_if_done(&current).await?;
            }
            return Ok(PageOutcome::AlreadyDone);
        };
        emit_page_metrics(run.scope.provider.as_str(), &counts);
        let completed = self.complete_if_done(&updated).await?;
        Ok(PageOutcome::Counted { counts, completed })
    }

    /// Ends `run` with `status` (whether this call ended it) and, when it did and the run is a
    /// company's (not a user's own), tells the company's recipients through the notifications
    /// queue; a failed enqueue is logged and the run still ends.
    async fn end_run(
        &self,
        run: &SyncRun,
        status: RunStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        let ended = self.runs.finish(run, status, error, now).await?;
        if let (true, Some(queue_url), None) =
            (ended, &self.notifications_queue, &run.scope.user_id)
        {
            let job = Job::SyncEnded(SyncEnd {
                company_id: run.scope.company_id.clone(),
                run_id: run.run_id.clone(),
                trigger: run.trigger.clone(),
                completed: status == RunStatus::Completed,
                error: error.map(str::to_owned),
                ended_at: now,
                seen: run.counts.seen,
                drifted: run.counts.drifted,
            });
            let sent = match job.message() {
                Ok(message) => self
                    .publisher
                    .publish(queue_url, &message)
                    .await
                    .map(|_| ()),
                Err(error) => Err(error),
            };
            if let Err(error) = sent {
                tracing::warn!(run.id = %run.run_id, code = "run_end_not_enqueued", %error,
                    "the run ended; telling the company was not enqueued");
            }
        }
        Ok(ended)
    }

    /// Ends `run` as completed when every page up to the last was counted; whether this call
    /// ended it.
    async fn complete_if_done(&self, run: &SyncRun) -> Result<bool, SyncError> {
        if !run.all_pages_done() || run.status.is_finished() {
            return Ok(false);
        }
        let completed = self
            .end_run(run, RunStatus::Completed, None, self.clock.now())
            .await?;
        if completed {
            tracing::info!(run.id = %run.run_id, pages = run.pages, seen = run.counts.seen,
                drifted = run.counts.drifted, "sync run completed");
        }
        Ok(completed)
    }

    /// Works a batch from the `sync-jobs` queue; returns the message ids to retry.
    pub async fn run_jobs(&self, records: &[InboundMessage]) -> Vec<String> {
        let mut failed = Vec::new();
        for record in records {
            let id = record.message_id.clone().unwrap_or_default();
            let job = record.body.as_deref().map(serde_json::from_str::<PageJob>);
            let outcome = match job {
                Some(Ok(job)) => self.run_page(&job).await,
                Some(Err(error)) => Err(SyncError::BadRequest(format!(
                    "the message is not a page job: {error}"
                ))),
                None => Err(SyncError::BadRequest("the message has no body".into())),
            };
            match outcome {
                Ok(outcome) => tracing::info!(message.id = %id, ?outcome, "page job done"),
                Err(error) => {
                    // Retried by the queue, and dead-lettered when it keeps failing.
                    tracing::warn!(message.id = %id, %error, "page job failed; the queue retries it");
                    failed.push(id);
                }
            }
        }
        failed
    }

    /// Puts the page off: the same job again after a delay, the run marked paused.
    async fn defer(
        &self,
        run: &SyncRun,
        job: &PageJob,
        error: &MembershipSourceError,
    ) -> Result<PageOutcome, SyncError> {
        let now = self.clock.now();
        let code = error.code();
        let counted = counts_as_deferral(error);
        if counted && job.deferrals >= MAX_DEFERRALS {
            tracing::error!(run.id = %run.run_id, page = job.page, %error, "page put off too often; the run failed");
            let reason = format!("gave_up_{code}");
            self.end_run(run, RunStatus::Failed, Some(&reason), now)
                .await?;
            return Ok(PageOutcome::Failed { error: reason });
        }
        let delay = error
            .retry_after()
            .unwrap_or(self.deferral)
            .clamp(Duration::from_secs(1), MAX_DEFERRAL);
        let again = PageJob {
            deferrals: job.deferrals + u32::from(counted),
            ..job.clone()
        };
        self.send(&again, Some(delay))
            .await
            .map_err(SyncError::Queue)?;
        let until = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
        self.runs.pause(run, until, code, now, now + LEASE).await?;
        tracing::warn!(run.id = %run.run_id, page = job.page, %error, delay_secs = delay.as_secs(), "sync paused: the provider cannot be called now");
        Ok(PageOutcome::Deferred {
            delay_secs: delay.as_secs(),
            error: code.to_owned(),
        })
    }

    /// Compares each listed membership with its stored state and writes the drift. A stored
    /// membership without drift whose signal index differs from its fold (a sync write whose
    /// index upkeep failed: the retried page finds no drift) gets that upkeep written, from the
    /// item already read.
    pub async fn reconcile(
        &self,
        source: Source,
        memberships: &[ListedMembership],
    ) -> Result<SyncCounts, SyncError> {
        let ids: Vec<String> = memberships.iter().map(|m| m.id.clone()).collect();
        let stored: HashMap<String, StoredMembership> = self
            .state
            .memberships(&ids)
            .await?
            .into_iter()
            .map(|stored| (stored.membership_id.clone(), stored))
            .collect();
        let mut counts = SyncCounts {
            seen: memberships.len() as u64,
            ..SyncCounts::default()
        };
        let mut writes = Vec::new();
        for membership in memberships {
            let item = stored.get(&membership.id);
            let observation = observation_of(membership);
            let state = item.map(StoredMembership::state);
            match verdict(state.as_ref(), observation.as_ref()) {
                Verdict::Unchanged => counts.unchanged += 1,
                Verdict::Skipped => {
                    counts.skipped += 1;
                    tracing::warn!(membership.id = %membership.id, "listed without updated_at; skipped");
                }
                Verdict::NewerLocally(fields) => {
                    counts.newer_locally += 1;
                    tracing::info!(membership.id = %membership.id, fields = ?fields, "stored state is newer than the API's; left alone");
                }
                Verdict::Drift(fields) => {
                    counts.drifted += 1;
                    tracing::info!(membership.id = %membership.id, fields = ?fields, new = fields.is_empty(), "drift: state the webhooks missed");
                    if let Some(observation) = observation {
                        writes.push(Write::Drift(membership.id.clone(), source, observation));
                    }
                    continue;
                }
            }
            if let Some(upkeep) = item.and_then(StoredMembership::index_upkeep) {
                writes.push(Write::Index(membership.id.clone(), upkeep));
            }
        }
        let state = &self.state;
        stream::iter(writes)
            .map(|write| write.apply(state))
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(counts)
    }

    /// Syncs one membership of `company_id` now. With `requester`, only that user's own
    /// membership.
    pub async fn sync_membership(
        &self,
        membership_id: &str,
        requester: Option<&str>,
        company_id: &str,
    ) -> Result<MembershipSync, SyncError> {
        let membership = self
            .api
            .get_membership(membership_id)
            .await?
            .ok_or(SyncError::NotFound)?;
        // Another company's membership (an app key sees several) is not ours to keep.
        if membership.company_id.as_deref() != Some(company_id) {
            return Err(SyncError::NotFound);
        }
        if let Some(requester) = requester
            && membership.user_id.as_deref() != Some(requester)
        {
            return Err(SyncError::NotFound);
        }
        let observation = observation_of(&membership);
        let item = self.state.membership(&membership.id).await?;
        let verdict = verdict(
            item.as_ref().map(StoredMembership::state).as_ref(),
            observation.as_ref(),
        );
        let (result, fields) = match verdict {
            Verdict::Unchanged => ("unchanged", Vec::new()),
            Verdict::Skipped => ("skipped", Vec::new()),
            Verdict::NewerLocally(fields) => ("newer_locally", fields),
            Verdict::Drift(fields) => {
                if let Some(observation) = observation {
                    Write::Drift(membership.id.clone(), Source::Whop, observation)
                        .apply(&self.state)
                        .await?;
                }
                tracing::info!(membership.id = %membership.id, fields = ?fields, "drift: state the webhooks missed");
                ("drifted", fields)
            }
        };
        if result != "drifted"
            && let Some(upkeep) = item.as_ref().and_then(StoredMembership::index_upkeep)
        {
            Write::Index(membership.id.clone(), upkeep)
                .apply(&self.state)
                .await?;
        }
        Ok(MembershipSync {
            membership_id: membership.id,
            result,
            fields,
        })
    }

    async fn send(&self, job: &PageJob, delay: Option<Duration>) -> Result<(), DependencyError> {
        self.publisher
            .publish(&self.queue_url, &job.message(delay)?)
            .await?;
        Ok(())
    }
}

/// A write a sync makes to one membership.
enum Write {
    /// Drift recorded as an observation of the provider's (with the upkeep its item then calls
    /// for).
    Drift(String, Source, Observation),
    /// The signal index of an item the sync records nothing to, brought up to its fold.
    Index(String, Upkeep),
}

impl Write {
    async fn apply<S: StateStore>(self, state: &S) -> Result<(), DependencyError> {
        match self {
            Self::Drift(id, source, observation) => {
                record_and_upkeep(state, &id, source, &observation).await?;
            }
            Self::Index(id, upkeep) => {
                tracing::info!(membership.id = %id, "signal index behind the stored state: brought up to date");
                write_upkeep(state, &id, &upkeep).await?;
            }
        }
        Ok(())
    }
}

/// Whether putting a page off for `error` uses up one of the run's [`MAX_DEFERRALS`]: not while
/// an operator has the provider's calls switched off (emergency mode, which may outlast them);
/// the page then just comes back after the deferral until the switch is off.
fn counts_as_deferral(error: &MembershipSourceError) -> bool {
    !matches!(error.failure, SourceFailure::Suspended)
}

/// `since` as RFC 3339 or Unix seconds.
fn parse_since(since: Option<&str>) -> Result<Option<DateTime<Utc>>, SyncError> {
    since
        .map(|text| {
            parse_time_str(text).ok_or_else(|| {
                SyncError::BadRequest(format!(
                    "`since` must be an RFC 3339 time or Unix seconds, not `{text}`"
                ))
            })
        })
        .transpose()
}

fn emit_page_metrics(provider: &str, counts: &SyncCounts) {
    let mut metrics = Metrics::new("sync").dimension("provider", provider);
    metrics
        .count(names::SYNC_PAGES, 1)
        .count(names::SYNC_SEEN, counts.seen)
        .count(names::SYNC_UNCHANGED, counts.unchanged)
        .count(names::SYNC_DRIFT, counts.drifted)
        .count(names::SYNC_NEWER_LOCALLY, counts.newer_locally)
        .count(names::SYNC_SKIPPED, counts.skipped)
        .count(names::SYNC_SALES_RECORDED, counts.sales_recorded);
    metrics.emit();
}
