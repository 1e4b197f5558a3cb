//! Creates the template's tables, queues and secrets in the emulator, under names prefixed with the
//! local stack's name, and resolves each function's environment against them.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow, bail};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::template::{EventDef, FunctionDef, Physical, Resolver, Template};

/// The account id and region the emulator reports.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// What was created, and how to resolve the template against it.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub resolver: Resolver,
    pub functions: Vec<FunctionDef>,
    /// HTTP API authorizer name → logical id of the function behind it.
    pub authorizers: BTreeMap<String, String>,
    /// Resource types of the template the emulator does not run (alarms, log groups, …).
    pub not_emulated: Vec<(String, String)>,
}

impl Provisioned {
    /// The environment of a function, every intrinsic resolved.
    pub fn environment(&self, function: &FunctionDef) -> anyhow::Result<BTreeMap<String, String>> {
        function
            .environment
            .iter()
            .map(|(name, value)| {
                let value = self.resolver.resolve_string(value).with_context(|| {
                    format!("{}: environment variable {name}", function.logical_id)
                })?;
                Ok((name.clone(), value))
            })
            .collect()
    }

    /// Every event source of every function, in template order: the one walk the routes, queue
    /// workers and schedules are read from.
    pub fn events(&self) -> impl Iterator<Item = (&FunctionDef, &EventDef)> {
        self.functions
            .iter()
            .flat_map(|function| function.events.iter().map(move |event| (function, event)))
    }

    pub fn physical(&self, logical_id: &str) -> anyhow::Result<&Physical> {
        self.resolver
            .resources
            .get(logical_id)
            .ok_or_else(|| anyhow!("{logical_id} was not provisioned"))
    }
}

const EMULATED: [&str; 5] = [
    // KDP report uploads' bucket and its notification to the ingestions queue.
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::Serverless::Function",
];

/// Provisions the stack `stack_name`; `parameters` override the template's defaults.
pub async fn provision(
    template: &Template,
    sdk: &SdkConfig,
    stack_name: &str,
    parameters: &BTreeMap<String, String>,
) -> anyhow::Result<Provisioned> {
    let mut resolver = Resolver {
        parameters: template.parameter_defaults(),
        conditions: template.conditions(),
        ..Resolver::default()
    };
    resolver.parameters.extend(parameters.clone());
    resolver.parameters.extend(
        [
            ("AWS::StackName", stack_name),
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT_ID),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );

    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    for (id, resource) in template.resources_of_type("AWS::DynamoDB::Table") {
        let name = format!("{stack_name}-{id}");
        create_table(&dynamodb, &name, &resolver.resolve(properties(resource))?)
            .await
            .with_context(|| format!("creating table {id}"))?;
        let arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}");
        resolver
            .resources
            .insert(id.to_owned(), physical(&name, [("Arn", arn)]));
    }

    // Queues are created once everything they reference (their DLQ) exists.
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut pending: Vec<(&str, &Value)> = template.resources_of_type("AWS::SQS::Queue").collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (id, resource) in pending {
            let Ok(resolved) = resolver.resolve(properties(resource)) else {
                waiting.push((id, resource));
                continue;
            };
            let name = format!("{stack_name}-{id}");
            let url = create_queue(&sqs, &name, &resolved)
                .await
                .with_context(|| format!("creating queue {id}"))?;
            let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}");
            resolver.resources.insert(
                id.to_owned(),
                physical(
                    &url,
                    [
                        ("Arn", arn),
                        ("QueueName", name.clone()),
                        ("QueueUrl", url.clone()),
                    ],
                ),
            );
        }
        if waiting.len() == before {
            let ids: Vec<&str> = waiting.iter().map(|(id, _)| *id).collect();
            bail!("queues {ids:?} reference resources that cannot be provisioned locally");
        }
        pending = waiting;
    }

    // KDP report uploads: buckets once the queues their notifications name exist.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    for (id, resource) in template.resources_of_type("AWS::S3::Bucket") {
        let name = bucket_name(stack_name, id);
        create_bucket(&s3, &name, &resolver.resolve(properties(resource))?)
            .await
            .with_context(|| format!("creating bucket {id}"))?;
        let arn = format!("arn:aws:s3:::{name}");
        resolver
            .resources
            .insert(id.to_owned(), physical(&name, [("Arn", arn)]));
    }

    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    for (id, resource) in template.resources_of_type("AWS::SecretsManager::Secret") {
        let name = format!("{stack_name}-{id}");
        let arn = create_secret(&secrets, &name, &resolver.resolve(properties(resource))?)
            .await
            .with_context(|| format!("creating secret {id}"))?;
        resolver
            .resources
            .insert(id.to_owned(), physical(&arn, [("Id", arn.clone())]));
    }

    let functions = template.functions()?;
    for function in &functions {
        let name = format!("{stack_name}-{}", function.logical_id);
        let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}");
        resolver
            .resources
            .insert(function.logical_id.clone(), physical(&name, [("Arn", arn)]));
    }

    let not_emulated = template
        .resources()
        .filter_map(|(id, r)| {
            let kind = r.get("Type").and_then(Value::as_str).unwrap_or_default();
            (!EMULATED.contains(&kind)).then(|| (id.to_owned(), kind.to_owned()))
        })
        .collect();

    Ok(Provisioned {
        resolver,
        functions,
        authorizers: template.authorizers(),
        not_emulated,
    })
}

fn properties(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&Value::Null)
}

fn physical<const N: usize>(reference: &str, attributes: [(&str, String); N]) -> Physical {
    Physical {
        reference: reference.to_owned(),
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("missing string {key} in {value}"))
}

fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn key_schema(value: &Value) -> anyhow::Result<Vec<KeySchemaElement>> {
    list(value, "KeySchema")
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName")?)
                .key_type(KeyType::from(text(k, "KeyType")?))
                .build()?)
        })
        .collect()
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    p: &Value,
) -> anyhow::Result<()> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(p)?));
    for attribute in list(p, "AttributeDefinitions") {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(attribute, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(attribute, "AttributeType")?))
                .build()?,
        );
    }
    for index in list(p, "GlobalSecondaryIndexes") {
        let projection = index
            .pointer("/Projection/ProjectionType")
            .and_then(Value::as_str)
            .unwrap_or("ALL");
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName")?)
                .set_key_schema(Some(key_schema(index)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(projection))
                        .build(),
                )
                .build()?,
        );
    }
    request.send().await?;
    if let Some(ttl) = p.get("TimeToLiveSpecification") {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(text(ttl, "AttributeName")?)
                    .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    p: &Value,
) -> anyhow::Result<String> {
    let mut request = client.create_queue().queue_name(name);
    for (property, attribute) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        (
            "MessageRetentionPeriod",
            QueueAttributeName::MessageRetentionPeriod,
        ),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
        (
            "ReceiveMessageWaitTimeSeconds",
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
        ),
        ("RedrivePolicy", QueueAttributeName::RedrivePolicy),
    ] {
        match p.get(property) {
            None => {}
            Some(Value::Object(object)) => {
                request = request.attributes(attribute, Value::Object(object.clone()).to_string());
            }
            Some(Value::String(s)) => request = request.attributes(attribute, s),
            Some(other) => request = request.attributes(attribute, other.to_string()),
        }
    }
    let output = request.send().await?;
    output
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("CreateQueue returned no URL"))
}

/// A bucket's name: `<stack>-<logical id>`, lower case, at most 63 characters.
fn bucket_name(stack_name: &str, id: &str) -> String {
    let mut name: String = format!("{stack_name}-{id}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// Creates the bucket and its queue notifications (event, queue, key prefix filter), as S3 would
/// deliver them: moto's server sends each object-created event to the queue itself.
async fn create_bucket(client: &aws_sdk_s3::Client, name: &str, p: &Value) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    client.create_bucket().bucket(name).send().await?;
    let mut queues = Vec::new();
    for queue in list(
        p.get("NotificationConfiguration").unwrap_or(&Value::Null),
        "QueueConfigurations",
    ) {
        let rules = queue
            .pointer("/Filter/S3Key/Rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|rule| {
                Ok(FilterRule::builder()
                    .name(FilterRuleName::from(text(rule, "Name")?))
                    .value(text(rule, "Value")?)
                    .build())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        queues.push(
            QueueConfiguration::builder()
                .queue_arn(text(queue, "Queue")?)
                .events(Event::from(text(queue, "Event")?))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                        .build(),
                )
                .build()?,
        );
    }
    if !queues.is_empty() {
        client
            .put_bucket_notification_configuration()
            .bucket(name)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .set_queue_configurations(Some(queues))
                    .build(),
            )
            .send()
            .await?;
    }
    Ok(())
}

async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    p: &Value,
) -> anyhow::Result<String> {
    let value = match (p.get("SecretString"), p.get("GenerateSecretString")) {
        (Some(Value::String(s)), _) => s.clone(),
        (_, Some(generate)) => {
            let length = generate
                .get("PasswordLength")
                .and_then(Value::as_u64)
                .unwrap_or(32);
            random_alphanumeric(usize::try_from(length)?)
        }
        _ => bail!("a secret needs SecretString or GenerateSecretString"),
    };
    let output = client
        .create_secret()
        .name(name)
        .set_description(
            p.get("Description")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
        .secret_string(value)
        .send()
        .await?;
    output
        .arn()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("CreateSecret returned no ARN"))
}

/// A random `[0-9a-f]` string (v4 UUIDs are 122 random bits from the OS generator).
fn random_alphanumeric(length: usize) -> String {
    let mut out = String::with_capacity(length + 32);
    while out.len() < length {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(length);
    out
}
