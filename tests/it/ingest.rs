//! KDP report uploads on the local stack: the presigned upload, the bucket's event → the job's
//! run → its outcome, the size cap, redelivered events, isolation between creators and the
//! listing's pages. moto's S3 delivers object-created events to the `ingestions` queue itself; it
//! does not check presigned signatures, so the signed `Content-Length` is asserted on the URL
//! and the ingest function's own size check is what refuses an oversized file here.
//!
//! The success path (a real report → `completed` with its counts) needs the report reader and is
//! tested with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use churnsaver::local::LocalStack;
use churnsaver::template::{EventDef, Template};
use serde_json::{Value, json};
use shared::aws::ingest::DynamoIngestions;
use shared::domain::ingest::{IngestionJob, JobId, JobStatus, RunOutcome};
use shared::domain::ports::IngestionStore;
use shared::edge::deps::ingest::IngestDeps;

use crate::companies::{get, send};
use crate::helpers::{open_session, start_running_stack, start_running_stack_with};

const ADMIN: &str = "user_local_admin";
const COMPANY: &str = "biz_local";
const OTHER_ADMIN: &str = "user_other_admin";

/// `POST /ingestions/kdp?company_id=` for `file_name` of `size` bytes.
async fn request_upload(
    stack: &LocalStack,
    token: &str,
    company: &str,
    file_name: &str,
    size: usize,
) -> (u16, Value) {
    send(
        stack,
        token,
        "POST",
        &format!("/ingestions/kdp?company_id={company}"),
        Some(json!({"file_name": file_name, "size": size})),
    )
    .await
}

/// PUTs `body` to the upload's presigned URL with the headers it names (or none).
async fn put(upload: &Value, body: Vec<u8>, signed_headers: bool) -> u16 {
    let mut request = reqwest::Client::new().put(upload["url"].as_str().unwrap());
    if signed_headers {
        for pair in upload["headers"].as_array().unwrap() {
            let name = pair[0].as_str().unwrap();
            if !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name, pair[1].as_str().unwrap());
            }
        }
    }
    request.body(body).send().await.unwrap().status().as_u16()
}

/// The job once it has ended (the stack's worker runs it from the bucket's event).
async fn ended(stack: &LocalStack, job_id: &str) -> IngestionJob {
    let store = DynamoIngestions::of(&stack.app);
    let id = JobId::parse(job_id).unwrap();
    for _ in 0..300 {
        let job = store.job(&id).await.unwrap().unwrap();
        if job.status.ended() {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the job {job_id} did not end");
}

#[tokio::test]
async fn a_corrupt_upload_fails_its_job_with_the_readers_reason_and_a_redelivered_event_runs_it_once()
 {
    let stack = start_running_stack().await;
    let token = open_session(&stack, ADMIN).await;
    let corrupt = b"this is not a workbook\x00\x01\x02".to_vec();
    let (status, answer) = request_upload(
        &stack,
        &token,
        COMPANY,
        "../My Report (May).xlsx",
        corrupt.len(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let job = &answer["job"];
    assert_eq!(
        (&job["status"], &job["company_id"], &job["file_name"]),
        (
            &json!("pending"),
            &json!(COMPANY),
            &json!("My_Report__May_.xlsx")
        )
    );
    let upload = &answer["upload"];
    assert_eq!(upload["method"], "PUT");
    let url = upload["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bhost"),
        "the size is signed: {url}"
    );
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    let part = job_id.rsplit_once('.').unwrap().1;
    assert!(
        url.contains(&format!(
            "/ingestions/{COMPANY}/{part}/My_Report__May_.xlsx?"
        )),
        "{url}"
    );

    assert_eq!(put(upload, corrupt.clone(), true).await, 200);
    let job = ended(&stack, &job_id).await;
    let reason = shared::providers::kdp::parse_report(&job.file_name, &corrupt, COMPANY)
        .unwrap_err()
        .to_string();
    assert_eq!(job.status, JobStatus::Failed);
    let failure = job.failure.clone().unwrap();
    assert_eq!(
        (failure.code.as_str(), failure.reason.as_str()),
        ("unreadable_report", reason.as_str())
    );
    assert_eq!((job.attempts, job.sales_written), (1, 0));
    let (status, shown) = get(&stack, &token, &format!("/ingestions/{job_id}")).await;
    assert_eq!(
        (status, &shown["status"]),
        (200, &json!("failed")),
        "{shown}"
    );
    assert_eq!(shown["failure"]["code"], "unreadable_report");

    // The same event again: the job has ended, nothing runs.
    let deps = IngestDeps::build(Arc::clone(&stack.app));
    let ingestor = deps.ingestor.as_ref().unwrap();
    let key = job.object_key();
    assert_eq!(
        ingestor.run(&key).await.unwrap(),
        RunOutcome::AlreadyEnded(JobStatus::Failed)
    );
    let again = DynamoIngestions::of(&stack.app)
        .job(&JobId::parse(&job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, job, "the job is as its one run left it");
    // An object that names no job is dropped.
    assert_eq!(
        ingestor
            .run("ingestions/biz_local/not-a-job/x.csv")
            .await
            .unwrap(),
        RunOutcome::UnknownObject
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_job_another_run_holds_is_not_run_and_a_run_past_its_lease_takes_it_over() {
    let stack = start_running_stack().await;
    let token = open_session(&stack, ADMIN).await;
    // No upload: the job stays pending, and the runs below are the only ones.
    let (status, answer) = request_upload(&stack, &token, COMPANY, "r.csv", 3).await;
    assert_eq!(status, 201, "{answer}");
    let id = JobId::parse(answer["job"]["job_id"].as_str().unwrap()).unwrap();
    let store = DynamoIngestions::of(&stack.app);
    let now = chrono::Utc::now();
    let lease = shared::domain::ingest::CLAIM_LEASE;
    let held = store.claim(&id, now, lease).await.unwrap().unwrap();
    assert_eq!((held.status, held.attempts), (JobStatus::Parsing, 1));
    assert!(
        store.claim(&id, now, lease).await.unwrap().is_none(),
        "held"
    );
    let deps = IngestDeps::build(Arc::clone(&stack.app));
    let key = held.object_key();
    assert_eq!(
        deps.ingestor.as_ref().unwrap().run(&key).await.unwrap(),
        RunOutcome::Held
    );
    // A crashed run: once its lease is over the job is claimed again (a second attempt).
    let later = now + chrono::Duration::from_std(lease).unwrap() + chrono::Duration::seconds(1);
    let retaken = store.claim(&id, later, lease).await.unwrap().unwrap();
    assert_eq!(retaken.attempts, 2);
    assert!(
        !store.finish(&held).await.unwrap(),
        "the first run's outcome is not written"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_size_over_the_cap_is_refused_and_an_upload_larger_than_declared_fails_its_job() {
    let parameters = BTreeMap::from([("IngestMaxUploadBytes".to_owned(), "64".to_owned())]);
    let stack = start_running_stack_with(parameters).await;
    let token = open_session(&stack, ADMIN).await;
    let (status, answer) = request_upload(&stack, &token, COMPANY, "big.xlsx", 65).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!("invalid_size"))
    );
    let (status, answer) = request_upload(&stack, &token, COMPANY, "small.xlsx", 10).await;
    assert_eq!(status, 201, "{answer}");
    // moto takes any body at a presigned URL; S3 would refuse it (the length is signed).
    assert_eq!(put(&answer["upload"], vec![b'x'; 100], false).await, 200);
    let job = ended(&stack, answer["job"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.failure.unwrap().code, "file_too_large");
    stack.shutdown().await;
}

/// Every ingestion route of the template.
fn ingestion_routes() -> Vec<(String, String)> {
    Template::load(&churnsaver::template_path())
        .unwrap()
        .functions()
        .unwrap()
        .iter()
        .flat_map(|f| f.events.clone())
        .filter_map(|e| match e {
            EventDef::Http(route) if route.path.starts_with("/ingestions") => {
                Some((route.method, route.path))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn another_creators_company_is_refused_on_every_ingestion_route_and_listings_page() {
    let stack = start_running_stack().await;
    let token = open_session(&stack, ADMIN).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, answer) =
            request_upload(&stack, &token, COMPANY, &format!("r{n}.csv"), 10).await;
        assert_eq!(status, 201, "{answer}");
        ids.push(answer["job"]["job_id"].as_str().unwrap().to_owned());
    }
    ids.reverse();

    let (status, first) = get(
        &stack,
        &token,
        &format!("/ingestions?company_id={COMPANY}&limit=2"),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let listed = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&first), ids[..2]);
    let next = first["next"].as_str().unwrap();
    let (_, second) = get(&stack, &token, &format!("/ingestions?limit=2&after={next}")).await;
    assert_eq!(listed(&second), ids[2..], "{second}");
    assert_eq!(second["next"], Value::Null);
    let (status, bad) = get(&stack, &token, "/ingestions?after=x").await;
    assert_eq!(
        (status, &bad["error"]["code"]),
        (400, &json!("invalid_query"))
    );

    let other = open_session(&stack, OTHER_ADMIN).await;
    let (_, theirs) = get(&stack, &other, "/ingestions").await;
    assert_eq!(
        theirs["jobs"],
        json!([]),
        "the other creator lists none of them"
    );
    let routes = ingestion_routes();
    assert_eq!(routes.len(), 3, "{routes:?}");
    for (method, path) in &routes {
        let path = match path.as_str() {
            "/ingestions/{id}" => format!("/ingestions/{}", ids[0]),
            other => format!("{other}?company_id={COMPANY}"),
        };
        let body = (method == "POST").then(|| json!({"file_name": "r.csv", "size": 10}));
        let (status, answer) = send(&stack, &other, method, &path, body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (403, &json!("not_company_admin")),
            "{method} {path}: {answer}"
        );
    }
    stack.shutdown().await;
}
