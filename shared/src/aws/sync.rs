//! [`SyncStore`] over the `state` table.
//!
//! Items (pk `SYNC#whop`):
//! - `RUN#<run id>`: a run. Counts, pages and the set of done page numbers are separate attributes
//!   so a page adds to them in one conditional UpdateItem.
//! - `LOCK#<scope key>`: the run holding a scope, with a lease. Taken together with the run's
//!   creation in one transaction; released when the run ends; a lapsed lease can be taken over.

use crate::domain::ports::{ResumeTake, StalledRuns, SyncStore};
use std::collections::BTreeSet;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, TimeDelta, Utc};

use super::item::{self, Item, key, millis, n, number, s, time};
use super::{applied, dependency_error};
use crate::domain::ports::DependencyError;
use crate::domain::sync::{
    PROVIDER, RunStatus, Scope, StartRun, SyncCounts, SyncRun, USER_SYNC_COOLDOWN,
};

/// How long run items are kept after they start (TTL).
const RUN_RETENTION: TimeDelta = TimeDelta::days(90);

/// Runs in the state table.
#[derive(Debug, Clone)]
pub struct DynamoRuns {
    pub client: Client,
    pub table: String,
}

impl DynamoRuns {
    pub fn of(app: &crate::App) -> Self {
        Self {
            client: app.dynamodb.clone(),
            table: app.config.tables.state.clone(),
        }
    }
}

fn pk() -> String {
    format!("SYNC#{PROVIDER}")
}

fn run_sk(run_id: &str) -> String {
    format!("RUN#{run_id}")
}

fn lock_sk(scope: &Scope) -> String {
    format!("LOCK#{}", scope.lock_key())
}

fn run_key(sk: String) -> Item {
    key(pk(), sk)
}

fn unreadable(what: &str) -> DependencyError {
    item::unreadable("sync", what)
}

fn text(item: &Item, name: &str) -> Option<String> {
    item::text(item, name).map(str::to_owned)
}

const COUNT_ATTRIBUTES: [&str; 6] = [
    "c_seen",
    "c_unchanged",
    "c_drifted",
    "c_newer_locally",
    "c_skipped",
    "c_sales_recorded",
];

fn run_item(run: &SyncRun) -> Result<Item, DependencyError> {
    let scope = serde_json::to_string(&run.scope)
        .map_err(|e| DependencyError::Other(format!("cannot encode the scope: {e}")))?;
    let mut item = run_key(run_sk(&run.run_id));
    item.extend([
        ("run_id".to_owned(), s(&run.run_id)),
        ("scope".to_owned(), s(scope)),
        ("trigger".to_owned(), s(&run.trigger)),
        ("status".to_owned(), s(run.status.as_str())),
        ("started_at".to_owned(), millis(run.started_at)),
        ("updated_at".to_owned(), millis(run.updated_at)),
        ("pages".to_owned(), n(run.pages)),
        (
            "expires_at".to_owned(),
            n((run.started_at + RUN_RETENTION).timestamp()),
        ),
    ]);
    for (attribute, (_, value)) in COUNT_ATTRIBUTES.iter().zip(run.counts.named()) {
        item.insert((*attribute).to_owned(), n(value));
    }
    Ok(item)
}

/// The lock item of `run`'s scope, held until `lease_until`.
fn lock_item(run: &SyncRun, lease_until: DateTime<Utc>) -> Item {
    let mut lock = run_key(lock_sk(&run.scope));
    lock.extend([
        ("run_id".to_owned(), s(&run.run_id)),
        ("lease_until".to_owned(), millis(lease_until)),
        (
            "expires_at".to_owned(),
            n((lease_until + TimeDelta::days(1)).timestamp()),
        ),
    ]);
    lock
}

fn build_error(error: &aws_sdk_dynamodb::error::BuildError) -> DependencyError {
    DependencyError::Other(error.to_string())
}

/// The code of the `index`th cancellation reason of a failed transaction, if it was canceled.
fn cancellation_code(error: &TransactWriteItemsError, index: usize) -> Option<&str> {
    match error {
        TransactWriteItemsError::TransactionCanceledException(canceled) => canceled
            .cancellation_reasons()
            .get(index)
            .and_then(|reason| reason.code()),
        _ => None,
    }
}

fn from_item(item: &Item) -> Result<SyncRun, DependencyError> {
    let scope: Scope = text(item, "scope")
        .and_then(|scope| serde_json::from_str(&scope).ok())
        .ok_or_else(|| unreadable("scope"))?;
    let count = |i: usize| number(item, COUNT_ATTRIBUTES[i]).unwrap_or(0);
    let done_pages: BTreeSet<u64> = match item.get("done") {
        Some(AttributeValue::Ns(numbers)) => {
            numbers.iter().filter_map(|p| p.parse().ok()).collect()
        }
        _ => BTreeSet::new(),
    };
    Ok(SyncRun {
        run_id: text(item, "run_id").ok_or_else(|| unreadable("run_id"))?,
        scope,
        trigger: text(item, "trigger").unwrap_or_default(),
        status: text(item, "status")
            .as_deref()
            .and_then(RunStatus::parse)
            .ok_or_else(|| unreadable("status"))?,
        started_at: time(item, "started_at").ok_or_else(|| unreadable("started_at"))?,
        updated_at: time(item, "updated_at").ok_or_else(|| unreadable("updated_at"))?,
        finished_at: time(item, "finished_at"),
        pages: number(item, "pages").unwrap_or(0),
        last_page: number(item, "last_page"),
        counts: SyncCounts {
            seen: count(0),
            unchanged: count(1),
            drifted: count(2),
            newer_locally: count(3),
            skipped: count(4),
            sales_recorded: count(5),
        },
        paused_until: time(item, "paused_until"),
        last_error: text(item, "last_error"),
        done_pages,
        next_page: number(item, "next_page").zip(text(item, "next_cursor")),
        resumes: number(item, "resumes").unwrap_or(0),
    })
}

impl DynamoRuns {
    /// Extends `run`'s hold on its scope; best effort (a lapsed lease only lets another run start).
    async fn extend_lease(&self, run: &SyncRun, lease_until: DateTime<Utc>) {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(run_key(lock_sk(&run.scope))))
            .update_expression("SET lease_until = :lease, expires_at = :expires")
            .condition_expression("run_id = :run")
            .expression_attribute_values(":lease", millis(lease_until))
            .expression_attribute_values(
                ":expires",
                n((lease_until + TimeDelta::days(1)).timestamp()),
            )
            .expression_attribute_values(":run", s(&run.run_id))
            .send()
            .await;
        // Not applied: another run holds the scope now.
        if let Err(error) = applied(result) {
            tracing::warn!(run.id = %run.run_id, %error, "could not extend the run's lease");
        }
    }

    /// The run holding `scope` and its lease.
    async fn lock_holder(
        &self,
        scope: &Scope,
    ) -> Result<Option<(String, DateTime<Utc>)>, DependencyError> {
        let lock = item::get(&self.client, &self.table, run_key(lock_sk(scope))).await?;
        Ok(lock.and_then(|item| Some((text(&item, "run_id")?, time(&item, "lease_until")?))))
    }
}

impl SyncStore for DynamoRuns {
    async fn start_run(
        &self,
        run: &SyncRun,
        lease_until: DateTime<Utc>,
    ) -> Result<StartRun, DependencyError> {
        let take_lock = Put::builder()
            .table_name(&self.table)
            .set_item(Some(lock_item(run, lease_until)))
            .condition_expression("attribute_not_exists(pk) OR lease_until < :now")
            .expression_attribute_values(":now", millis(run.started_at))
            .build()
            .map_err(|e| build_error(&e))?;
        let create_run = Put::builder()
            .table_name(&self.table)
            .set_item(Some(run_item(run)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| build_error(&e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(take_lock).build())
            .transact_items(TransactWriteItem::builder().put(create_run).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(StartRun::Started),
            Err(error) => {
                // The lock's condition failed, or another start of the same scope raced this one.
                let lock_contended = matches!(
                    error
                        .as_service_error()
                        .and_then(|e| cancellation_code(e, 0)),
                    Some("ConditionalCheckFailed" | "TransactionConflict")
                );
                if !lock_contended {
                    return Err(dependency_error(&error));
                }
                match self.lock_holder(&run.scope).await? {
                    Some((run_id, until)) => Ok(StartRun::Held { run_id, until }),
                    // Released in between: the caller may simply try again.
                    None => Err(DependencyError::Other(
                        "the scope's lock changed while starting".to_owned(),
                    )),
                }
            }
        }
    }

    async fn run(&self, run_id: &str) -> Result<Option<SyncRun>, DependencyError> {
        item::get(&self.client, &self.table, run_key(run_sk(run_id)))
            .await?
            .as_ref()
            .map(from_item)
            .transpose()
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<SyncRun>, DependencyError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :run)")
            .expression_attribute_values(":pk", s(pk()))
            .expression_attribute_values(":run", s("RUN#"))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        output.items().iter().map(from_item).collect()
    }

    async fn page_done(
        &self,
        run: &SyncRun,
        page: u64,
        counts: &SyncCounts,
        next_cursor: Option<&str>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<SyncRun>, DependencyError> {
        let mut add = String::from("ADD #done :page_set, pages :one");
        for attribute in COUNT_ATTRIBUTES {
            add.push_str(&format!(", {attribute} :{attribute}"));
        }
        let mut set = String::from(" SET #status = :running, updated_at = :now");
        match next_cursor {
            // Where a stalled run resumes. Pages count in order (one job of a run is in flight
            // at a time), so the latest count names the page to resume from.
            Some(_) => set.push_str(", next_page = :next_page, next_cursor = :next_cursor"),
            None => set.push_str(", last_page = :page"),
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(run_key(run_sk(&run.run_id))))
            .update_expression(format!("{add}{set} REMOVE paused_until"))
            .condition_expression(
                "attribute_exists(pk) AND NOT contains(#done, :page) \
                 AND #status IN (:running, :paused)",
            )
            .expression_attribute_names("#done", "done")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":page_set", AttributeValue::Ns(vec![page.to_string()]))
            .expression_attribute_values(":page", n(page))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
            .expression_attribute_values(":paused", s(RunStatus::Paused.as_str()))
            .expression_attribute_values(":now", millis(now))
            .return_values(ReturnValue::AllNew);
        for (attribute, (_, value)) in COUNT_ATTRIBUTES.iter().zip(counts.named()) {
            request = request.expression_attribute_values(format!(":{attribute}"), n(value));
        }
        if let Some(cursor) = next_cursor {
            request = request
                .expression_attribute_values(":next_page", n(page + 1))
                .expression_attribute_values(":next_cursor", s(cursor));
        }
        // Not applied: the page was already counted (or the run ended).
        let Some(output) = applied(request.send().await)? else {
            return Ok(None);
        };
        self.extend_lease(run, lease_until).await;
        let item = output
            .attributes()
            .ok_or_else(|| unreadable("UpdateItem returned no attributes"))?;
        Ok(Some(from_item(item)?))
    }

    async fn pause(
        &self,
        run: &SyncRun,
        until: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<(), DependencyError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(run_key(run_sk(&run.run_id))))
            .update_expression(
                "SET #status = :paused, paused_until = :until, last_error = :error, updated_at = :now",
            )
            .condition_expression("#status IN (:running, :paused)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paused", s(RunStatus::Paused.as_str()))
            .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
            .expression_attribute_values(":until", millis(until))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":now", millis(now))
            .send()
            .await;
        // Not applied: the run ended meanwhile, nothing to pause.
        if applied(result)?.is_some() {
            self.extend_lease(run, lease_until).await;
        }
        Ok(())
    }

    async fn finish(
        &self,
        run: &SyncRun,
        status: RunStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, DependencyError> {
        let mut update =
            String::from("SET #status = :status, finished_at = :now, updated_at = :now");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(run_key(run_sk(&run.run_id))))
            .condition_expression("#status IN (:running, :paused)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
            .expression_attribute_values(":paused", s(RunStatus::Paused.as_str()))
            .expression_attribute_values(":now", millis(now));
        if let Some(error) = error {
            update.push_str(", last_error = :error");
            request = request.expression_attribute_values(":error", s(error));
        }
        update.push_str(" REMOVE paused_until");
        if applied(request.update_expression(update).send().await)?.is_none() {
            return Ok(false);
        }
        if run.scope.user_id.is_some() {
            // A user's next sync waits out the cooldown: the lock stays, with a short lease.
            self.extend_lease(run, now + USER_SYNC_COOLDOWN).await;
            return Ok(true);
        }
        let released = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(run_key(lock_sk(&run.scope))))
            .condition_expression("run_id = :run")
            .expression_attribute_values(":run", s(&run.run_id))
            .send()
            .await;
        // Not applied: the lock is another run's already. On an error, the lease lapses by itself.
        if let Err(error) = applied(released) {
            tracing::warn!(run.id = %run.run_id, %error, "could not release the run's lock");
        }
        Ok(true)
    }
}

/// Runs read per Query page by the stalled-run watchdog, and the pages it reads at most.
const STALE_QUERY_PAGE: i32 = 100;
const STALE_QUERY_PAGES: usize = 10;

impl StalledRuns for DynamoRuns {
    async fn stale_runs(
        &self,
        updated_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SyncRun>, DependencyError> {
        // Newest first: a run that stalls is among the latest when it first looks stale, so a
        // bounded read finds it on the next pass.
        let mut found = Vec::new();
        let mut start = None;
        for _ in 0..STALE_QUERY_PAGES {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :run)")
                .filter_expression("#status IN (:running, :paused) AND updated_at < :before")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pk", s(pk()))
                .expression_attribute_values(":run", s("RUN#"))
                .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
                .expression_attribute_values(":paused", s(RunStatus::Paused.as_str()))
                .expression_attribute_values(":before", millis(updated_before))
                .scan_index_forward(false)
                .limit(STALE_QUERY_PAGE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dependency_error(&e))?;
            for item in output.items() {
                found.push(from_item(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || found.len() >= limit {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn take_for_resume(
        &self,
        run: &SyncRun,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<ResumeTake, DependencyError> {
        let count_resume = Update::builder()
            .table_name(&self.table)
            .set_key(Some(run_key(run_sk(&run.run_id))))
            .update_expression(
                "SET updated_at = :now, resumes = if_not_exists(resumes, :zero) + :one",
            )
            .condition_expression("#status IN (:running, :paused) AND updated_at = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(RunStatus::Running.as_str()))
            .expression_attribute_values(":paused", s(RunStatus::Paused.as_str()))
            .expression_attribute_values(":seen", millis(run.updated_at))
            .expression_attribute_values(":now", millis(now))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| build_error(&e))?;
        let take_lock = Put::builder()
            .table_name(&self.table)
            .set_item(Some(lock_item(run, lease_until)))
            .condition_expression("attribute_not_exists(pk) OR run_id = :run OR lease_until < :now")
            .expression_attribute_values(":run", s(&run.run_id))
            .expression_attribute_values(":now", millis(now))
            .build()
            .map_err(|e| build_error(&e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count_resume).build())
            .transact_items(TransactWriteItem::builder().put(take_lock).build())
            .send()
            .await;
        let Err(error) = result else {
            return Ok(ResumeTake::Taken);
        };
        let Some(service) = error.as_service_error() else {
            return Err(dependency_error(&error));
        };
        match (cancellation_code(service, 0), cancellation_code(service, 1)) {
            (Some("ConditionalCheckFailed" | "TransactionConflict"), _) => Ok(ResumeTake::Changed),
            (_, Some("ConditionalCheckFailed")) => Ok(ResumeTake::ScopeTaken),
            (_, Some("TransactionConflict")) => Ok(ResumeTake::Changed),
            _ => Err(dependency_error(&error)),
        }
    }
}
