//! Item mapping for the DynamoDB adapters, in one place: whole items ⇄ structs through
//! `serde_dynamo`, the attribute values of keys and of update/condition expressions, reads of
//! single attributes (text, numbers, epoch-millisecond times), deflated attributes, item sizes,
//! and the consistent-read GetItem.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::dependency_error;
use crate::domain::ports::DependencyError;

/// A DynamoDB item (or key).
pub type Item = HashMap<String, AttributeValue>;

/// A string value.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number value.
pub(crate) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A time as epoch milliseconds.
pub(crate) fn millis(time: DateTime<Utc>) -> AttributeValue {
    n(time.timestamp_millis())
}

/// The key `pk`, `sk` (both strings).
pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// The string attribute `name`.
pub(crate) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// The number attribute `name`, as `T`.
pub(crate) fn number<T: FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// The epoch-milliseconds attribute `name`.
pub(crate) fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(number(item, name)?).single()
}

/// An item of `table` (e.g. `state`, `sessions`) that does not read back: `what` says why.
pub(crate) fn unreadable(table: &str, what: impl Display) -> DependencyError {
    DependencyError::Other(format!("unreadable {table} item: {what}"))
}

/// `bytes` deflated, as a binary value: for a large attribute of repetitive text (JSON), since
/// every write pays for the item's size in 1 KB units.
pub(crate) fn deflated(bytes: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(miniz_oxide::deflate::compress_to_vec(bytes, 6)))
}

/// The bytes of the attribute `name` of an item of `table`, as [`deflated`] stored them (or as
/// text, as written before it was deflated); more than `limit` bytes inflated is corrupt.
pub(crate) fn inflated(
    table: &str,
    name: &str,
    value: &AttributeValue,
    limit: usize,
) -> Result<Vec<u8>, DependencyError> {
    match value {
        AttributeValue::B(deflated) => {
            miniz_oxide::inflate::decompress_to_vec_with_limit(deflated.as_ref(), limit)
                .map_err(|e| unreadable(table, format!("{name} does not inflate: {e}")))
        }
        AttributeValue::S(text) => Ok(text.clone().into_bytes()),
        _ => Err(unreadable(
            table,
            format!("{name} is neither binary nor text"),
        )),
    }
}

/// The size DynamoDB bills an item by: the lengths of its attribute names and values (a number
/// is about one byte per two digits, plus one). A write costs one unit per KB of it.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        other => format!("{other:?}").len(),
    }
}

/// `value` as an item.
pub(crate) fn to_item<T: Serialize>(value: &T, what: &str) -> Result<Item, DependencyError> {
    serde_dynamo::to_item(value)
        .map_err(|e| DependencyError::Other(format!("cannot encode the {what}: {e}")))
}

/// An item of `table` as `T`.
pub(crate) fn from_item<T: DeserializeOwned>(
    item: Item,
    table: &str,
) -> Result<T, DependencyError> {
    serde_dynamo::from_item(item).map_err(|e| unreadable(table, e))
}

/// The item of `table` at `key`, read consistently; `None` when absent.
pub(crate) async fn get(
    client: &Client,
    table: &str,
    key: Item,
) -> Result<Option<Item>, DependencyError> {
    get_with(client, table, key, |request| request).await
}

/// Puts `item` in `table` unconditionally (replacing the item at its key).
pub(crate) async fn put(client: &Client, table: &str, item: Item) -> Result<(), DependencyError> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| dependency_error(&e))?;
    Ok(())
}

/// Writes `item` unless an item with its key exists (one conditional PutItem); `false` when one
/// did.
pub(crate) async fn put_new(
    client: &Client,
    table: &str,
    item: Item,
) -> Result<bool, DependencyError> {
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    Ok(super::applied(put)?.is_some())
}

/// [`get`] with more to the request (a projection).
pub(crate) async fn get_with(
    client: &Client,
    table: &str,
    key: Item,
    more: impl FnOnce(GetItemFluentBuilder) -> GetItemFluentBuilder,
) -> Result<Option<Item>, DependencyError> {
    let request = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true);
    let output = more(request)
        .send()
        .await
        .map_err(|e| dependency_error(&e))?;
    Ok(output.item)
}
