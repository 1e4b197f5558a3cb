//! The local stack is the template: same resources, same routes, same triggers.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_sqs::types::QueueAttributeName;
use churnsaver::functions::Invoker;
use churnsaver::local::{QueueWorker, deliver};
use churnsaver::template::{EventDef, Template};
use serde_json::{Value, json};

use crate::helpers::{call, start_stack};

/// The routes of the HTTP API (`README.md`, "HTTP API").
const HTTP_API_ROUTES: [(&str, &str); 35] = [
    ("POST", "/webhooks/{provider}"),
    ("POST", "/auth/session"),
    ("GET", "/auth/session"),
    ("DELETE", "/auth/session"),
    ("GET", "/auth/sessions"),
    ("DELETE", "/auth/sessions"),
    ("GET", "/auth/google/start"),
    ("GET", "/auth/google/callback"),
    ("GET", "/health"),
    ("GET", "/health/db"),
    ("GET", "/health/external"),
    ("GET", "/health/webhooks"),
    ("POST", "/sync"),
    ("GET", "/memberships/{id}"),
    ("GET", "/users/{id}/memberships"),
    ("GET", "/companies/{company_id}/memberships"),
    ("GET", "/companies/{company_id}/summary"),
    ("GET", "/companies/{company_id}/sales"),
    ("GET", "/companies/{company_id}/settings"),
    ("PUT", "/companies/{company_id}/settings"),
    ("GET", "/companies/{company_id}/analytics"),
    ("PUT", "/companies/{company_id}/analytics"),
    ("DELETE", "/companies/{company_id}/analytics"),
    ("GET", "/me"),
    ("GET", "/me/companies"),
    ("POST", "/webhooks/gumroad/{token}"),
    ("GET", "/connections/gumroad/start"),
    ("GET", "/connections/gumroad/callback"),
    ("GET", "/connections/gumroad"),
    ("DELETE", "/connections/gumroad"),
    ("GET", "/unsubscribe"),
    ("POST", "/unsubscribe"),
    // KDP report uploads.
    ("POST", "/ingestions/kdp"),
    ("GET", "/ingestions/{id}"),
    ("GET", "/ingestions"),
];

fn template() -> Template {
    Template::load(&churnsaver::template_path()).unwrap()
}

#[tokio::test]
async fn serves_exactly_the_template_routes_and_they_are_the_designed_ones() {
    let stack = start_stack().await;
    let mut template_routes: Vec<(String, String)> = template()
        .functions()
        .unwrap()
        .iter()
        .flat_map(|f| f.events.clone())
        .filter_map(|e| match e {
            EventDef::Http(route) => Some((route.method, route.path)),
            _ => None,
        })
        .collect();
    template_routes.sort();
    let mut served: Vec<(String, String)> = stack
        .routes
        .iter()
        .map(|s| (s.route.method.clone(), s.route.path.clone()))
        .collect();
    served.sort();
    let mut designed: Vec<(String, String)> = HTTP_API_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    designed.sort();

    assert_eq!(served, template_routes);
    assert_eq!(served, designed);

    for (method, path) in &served {
        let concrete = path
            .replace("{provider}", "whop")
            .replace("{id}", "x1")
            .replace("{company_id}", "biz_x1");
        let (status, body) = call(&stack, method, &concrete).await;
        assert_ne!(body["error"]["code"], "route_not_found", "{method} {path}");
        assert_ne!(status, 405, "{method} {path} is not routed for its method");
    }
    let (status, body) = call(&stack, "GET", "/not-a-route").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("route_not_found"))
    );
}

#[tokio::test]
async fn protected_routes_go_through_the_authorizer() {
    let stack = start_stack().await;
    for (method, path) in [
        ("GET", "/health/db"),
        ("GET", "/health/external"),
        ("GET", "/health/webhooks"),
        ("POST", "/sync"),
        ("GET", "/memberships/m1"),
        ("GET", "/users/u1/memberships"),
        ("GET", "/companies/biz_1/memberships"),
        ("GET", "/companies/biz_1/summary"),
        ("GET", "/companies/biz_1/sales"),
        ("GET", "/companies/biz_1/settings"),
        ("PUT", "/companies/biz_1/settings"),
        ("GET", "/me"),
        ("GET", "/me/companies"),
    ] {
        let (status, body) = call(&stack, method, path).await;
        assert_eq!(
            (status, body),
            (403, json!({"message": "Forbidden"})),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn tables_match_the_template() {
    let stack = start_stack().await;
    for (id, resource) in template().resources_of_type("AWS::DynamoDB::Table") {
        let expected = &resource["Properties"];
        let name = &stack.provisioned.physical(id).unwrap().reference;
        let table = stack
            .app
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();

        let keys: Vec<Value> = table
            .key_schema()
            .iter()
            .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
            .collect();
        assert_eq!(Value::from(keys), expected["KeySchema"], "{id} keys");

        let indexes: Vec<Value> = table
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                let keys: Vec<Value> = i
                    .key_schema()
                    .iter()
                    .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
                    .collect();
                json!({"IndexName": i.index_name(), "KeySchema": keys,
                       "Projection": {"ProjectionType": i.projection().and_then(|p| p.projection_type()).map(|p| p.as_str())}})
            })
            .collect();
        let expected_indexes = expected
            .get("GlobalSecondaryIndexes")
            .cloned()
            .unwrap_or(json!([]));
        assert_eq!(Value::from(indexes), expected_indexes, "{id} indexes");

        let ttl = stack
            .app
            .dynamodb
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(
            ttl.attribute_name(),
            expected["TimeToLiveSpecification"]["AttributeName"].as_str(),
            "{id} ttl"
        );
    }
}

#[tokio::test]
async fn queues_match_the_template() {
    let stack = start_stack().await;
    for (id, resource) in template().resources_of_type("AWS::SQS::Queue") {
        let expected = &resource["Properties"];
        let url = &stack.provisioned.physical(id).unwrap().reference;
        let attributes = stack
            .app
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let get = |name: QueueAttributeName| attributes.get(&name).cloned();

        assert_eq!(
            get(QueueAttributeName::MessageRetentionPeriod),
            expected
                .get("MessageRetentionPeriod")
                .map(|v| v.to_string()),
            "{id} retention"
        );
        if let Some(visibility) = expected.get("VisibilityTimeout") {
            assert_eq!(
                get(QueueAttributeName::VisibilityTimeout),
                Some(visibility.to_string()),
                "{id}"
            );
        }
        match expected.get("RedrivePolicy") {
            Some(policy) => {
                let actual: Value =
                    serde_json::from_str(&get(QueueAttributeName::RedrivePolicy).unwrap()).unwrap();
                let dlq = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
                    .as_str()
                    .unwrap();
                assert_eq!(
                    actual["deadLetterTargetArn"],
                    stack.provisioned.physical(dlq).unwrap().attributes["Arn"]
                );
                assert_eq!(
                    actual["maxReceiveCount"].to_string(),
                    policy["maxReceiveCount"].to_string()
                );
            }
            None => assert_eq!(get(QueueAttributeName::RedrivePolicy), None, "{id}"),
        }
    }
}

#[tokio::test]
async fn secrets_match_the_template() {
    let stack = start_stack().await;
    for (id, resource) in template().resources_of_type("AWS::SecretsManager::Secret") {
        let expected = &resource["Properties"];
        let arn = &stack.provisioned.physical(id).unwrap().reference;
        let value = stack
            .app
            .secrets_manager
            .get_secret_value()
            .secret_id(arn)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .unwrap();
        let value = value.secret_string().unwrap();
        match expected.get("SecretString") {
            // The local stack gives each provider a random dev secret where the template has none.
            Some(literal) if id == "WebhookSecrets" => {
                let template: BTreeMap<String, Vec<String>> =
                    serde_json::from_str(literal.as_str().unwrap()).unwrap();
                let seeded: BTreeMap<String, Vec<String>> = serde_json::from_str(value).unwrap();
                assert_eq!(
                    seeded.keys().collect::<Vec<_>>(),
                    template.keys().collect::<Vec<_>>()
                );
                assert!(
                    seeded.values().all(|secrets| secrets.len() == 1),
                    "{seeded:?}"
                );
            }
            // The local stack's Resend key is its stand-in mail API's.
            Some(_) if id == "ResendApiKey" => assert_eq!(
                value,
                serde_json::json!({ "api_key": churnsaver::fake_mail::LOCAL_API_KEY }).to_string()
            ),
            // And its Twilio credentials its stand-in Twilio's.
            Some(_) if id == "TwilioCredentials" => assert_eq!(
                value,
                serde_json::json!({
                    "account_sid": churnsaver::fake_messaging::TWILIO_ACCOUNT_SID,
                    "auth_token": churnsaver::fake_messaging::TWILIO_AUTH_TOKEN,
                })
                .to_string()
            ),
            Some(literal) => assert_eq!(Some(value), literal.as_str(), "{id}"),
            None => assert_eq!(
                value.len() as u64,
                expected["GenerateSecretString"]["PasswordLength"]
                    .as_u64()
                    .unwrap(),
                "{id}"
            ),
        }
    }
}

#[tokio::test]
async fn workers_and_schedules_are_the_template_triggers() {
    let stack = start_stack().await;
    let workers: Vec<(&str, &str, i32, bool)> = stack
        .workers
        .iter()
        .map(|w| {
            (
                w.queue.as_str(),
                w.function.as_str(),
                w.batch_size,
                w.report_batch_item_failures,
            )
        })
        .collect();
    assert_eq!(
        workers,
        [
            ("IngestionsQueue", "ingest", 1, true),
            ("NotificationsQueue", "notify", 10, true),
            ("EventsQueue", "processor", 10, true),
            ("SyncJobsQueue", "sync", 1, true)
        ]
    );
    let schedules: Vec<(&str, u64, Value)> = stack
        .schedules
        .iter()
        .map(|s| (s.function.as_str(), s.every.as_secs(), s.input.clone()))
        .collect();
    assert_eq!(
        schedules,
        [
            ("maintenance", 3600, json!({"task": "digests"})),
            ("maintenance", 900, json!({"task": "maintenance"})),
            (
                "sync",
                21_600,
                json!({"kind": "reconcile", "provider": "whop"})
            ),
            (
                "sync",
                21_600,
                json!({"kind": "reconcile", "provider": "gumroad"})
            ),
            (
                "sync",
                21_600,
                json!({"kind": "reconcile", "provider": "paypal"})
            ),
            (
                "sync",
                21_600,
                json!({"kind": "reconcile", "provider": "stripe"})
            )
        ]
    );
}

/// A function that reports every message whose body is `poison` as failed.
fn fails_poison() -> Invoker {
    Arc::new(|event: Value| {
        Box::pin(async move {
            let failures: Vec<Value> = event["Records"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["body"] == "poison")
                .map(|r| json!({"itemIdentifier": r["messageId"]}))
                .collect();
            Ok(json!({"batchItemFailures": failures}))
        })
    })
}

#[tokio::test]
async fn the_worker_deletes_only_successes_and_failures_reach_the_dlq() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let queues = &stack.app.config.queues;
    // A private queue with the template's redrive policy, polled by this test alone.
    let events_attributes = sqs
        .get_queue_attributes()
        .queue_url(&queues.events)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{}-poison", crate::helpers::stack_name()))
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            &events_attributes[&QueueAttributeName::RedrivePolicy],
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for body in ["ok-1", "poison", "ok-2"] {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let worker = QueueWorker {
        function: "test".into(),
        queue: "Poison".into(),
        queue_url: queue_url.clone(),
        batch_size: 10,
        report_batch_item_failures: true,
    };
    let invoke = fails_poison();

    // Receive as the event source mapping does, until the poison message is dead-lettered
    // (moto moves it on the receive after the 5th).
    let mut delivered = Vec::new();
    for _ in 0..8 {
        let messages = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        delivered.push(
            messages
                .iter()
                .map(|m| m.body().unwrap().to_owned())
                .collect::<Vec<_>>(),
        );
        if !messages.is_empty() {
            deliver(sqs, &worker, &invoke, messages).await.unwrap();
        }
    }

    assert_eq!(delivered[0].len(), 3);
    assert!(
        delivered[1..5].iter().all(|batch| batch == &["poison"]),
        "{delivered:?}"
    );
    assert!(delivered[5..].iter().all(Vec::is_empty), "{delivered:?}");
    let dead = sqs
        .receive_message()
        .queue_url(&queues.events_dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let dead: Vec<&str> = dead.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(dead, ["poison"]);
}

#[tokio::test]
async fn a_failed_invocation_keeps_the_whole_batch() {
    let stack = start_stack().await;
    let sqs = &stack.app.sqs;
    let queue_url = sqs
        .create_queue()
        .queue_name(crate::helpers::stack_name())
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for body in ["a", "b"] {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let worker = QueueWorker {
        function: "test".into(),
        queue: "Q".into(),
        queue_url: queue_url.clone(),
        batch_size: 10,
        report_batch_item_failures: true,
    };
    let failing: Invoker = Arc::new(|_| Box::pin(async { Err("boom".to_owned()) }));
    let messages = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();

    deliver(sqs, &worker, &failing, messages).await.unwrap();

    let again = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(again.len(), 2);
}

#[tokio::test]
async fn the_running_stack_polls_the_events_queue_into_the_processor() {
    let stack = crate::helpers::start_running_stack().await;
    let sqs = &stack.app.sqs;
    let queue = &stack.app.config.queues.events;
    sqs.send_message()
        .queue_url(queue)
        .message_body("{}")
        .send()
        .await
        .unwrap();

    // `{}` is not a queued event: the processor reports it failed, so after the worker's receive it
    // stays in flight until the visibility timeout (a success would have deleted it).
    let mut in_flight = 0;
    for _ in 0..50 {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        in_flight = attributes[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible]
            .parse()
            .unwrap();
        if in_flight == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(in_flight, 1);
    stack.shutdown().await;
}

#[test]
fn every_route_of_the_http_api_is_throttled_by_the_templates_parameters() {
    let template = template();
    let apis: Vec<_> = template
        .resources_of_type("AWS::Serverless::HttpApi")
        .collect();
    assert_eq!(apis.len(), 1);
    let settings = &apis[0].1["Properties"]["DefaultRouteSettings"];
    assert_eq!(
        settings["ThrottlingBurstLimit"],
        json!({"Ref": "ApiThrottlingBurstLimit"})
    );
    assert_eq!(
        settings["ThrottlingRateLimit"],
        json!({"Ref": "ApiThrottlingRateLimit"})
    );
}
