use super::memory::MemorySecret;
use super::*;

const OLD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";

fn stages(entries: &[(&str, &[&str])]) -> Stages {
    entries
        .iter()
        .map(|(id, labels)| {
            (
                (*id).to_owned(),
                labels.iter().map(|&l| l.to_owned()).collect(),
            )
        })
        .collect()
}

async fn all_steps(secret: &MemorySecret, token: &str) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        outcomes.push(run_step(secret, "s", token, step).await.unwrap());
    }
    outcomes
}

#[test]
fn steps_parse_from_the_event_spelling() {
    assert_eq!(Step::parse("createSecret"), Some(Step::Create));
    assert_eq!(Step::parse("finish_secret"), Some(Step::Finish));
    assert_eq!(Step::parse("CreateSecret"), None);
    for step in Step::ALL {
        assert_eq!(Step::parse(step.as_str()), Some(step));
    }
}

#[test]
fn precheck_follows_the_aws_template() {
    let s = stages(&[
        ("v1", &["AWSCURRENT"]),
        (T1, &["AWSPENDING"]),
        ("v0", &["AWSPREVIOUS"]),
    ]);
    assert_eq!(precheck(&s, T1), Ok(Precheck::Proceed));
    assert_eq!(precheck(&s, "v1"), Ok(Precheck::AlreadyCurrent));
    assert_eq!(
        precheck(&s, "v0"),
        Err(RotationError::NotPending { token: "v0".into() })
    );
    assert_eq!(
        precheck(&s, T2),
        Err(RotationError::UnknownVersion { token: T2.into() })
    );
}

#[test]
fn create_refuses_another_rotations_pending_version_only() {
    let in_progress = stages(&[("v1", &["AWSCURRENT"]), (T1, &["AWSPENDING"])]);
    assert_eq!(
        plan_create(&in_progress, T2),
        Err(RotationError::InProgress { version: T1.into() })
    );
    assert_eq!(plan_create(&in_progress, T1), Ok(Precheck::Proceed));

    // AWSPENDING left on the current version by an earlier rotation is not in progress.
    let leftover = stages(&[("v1", &["AWSCURRENT", "AWSPENDING"])]);
    assert_eq!(plan_create(&leftover, T2), Ok(Precheck::Proceed));
    assert_eq!(plan_create(&leftover, "v1"), Ok(Precheck::AlreadyCurrent));

    assert_eq!(
        plan_create(&stages(&[("v1", &["AWSPREVIOUS"])]), T2),
        Err(RotationError::NoCurrent)
    );
}

#[tokio::test]
async fn a_rotation_moves_current_to_the_new_key_and_keeps_the_old_as_previous() {
    let secret = MemorySecret::with_current("v1", OLD);

    let outcomes = all_steps(&secret, T1).await;
    assert_eq!(outcomes, [Outcome::Done; 4]);
    assert_eq!(
        secret.stages(),
        stages(&[("v1", &["AWSPREVIOUS"]), (T1, &["AWSCURRENT"])])
    );
    let new = secret.value(T1).unwrap();
    assert!(SigningKey::parse(&new).is_ok());
    assert_ne!(new, OLD);

    let writes = secret.writes();
    assert_eq!(all_steps(&secret, T1).await, [Outcome::AlreadyDone; 4]);
    assert_eq!(
        secret.writes(),
        writes,
        "a repeated rotation writes nothing"
    );
}

#[tokio::test]
async fn rotate_reports_the_new_and_previous_kids() {
    let secret = MemorySecret::with_current("v1", OLD);

    let rotated = rotate(&secret, "s", T1).await.unwrap();

    assert_eq!(rotated.version_id, T1);
    assert_eq!(rotated.kid, kid_of(&secret.value(T1).unwrap()));
    assert_eq!(rotated.previous_kid, Some(kid_of(OLD)));
}

#[tokio::test]
async fn create_fills_the_value_less_version_rotate_secret_made_and_then_retries_as_no_ops() {
    let secret = MemorySecret::with_current("v1", OLD);
    secret.start_rotation(T1);

    assert_eq!(create_secret(&secret, "s", T1).await, Ok(Outcome::Done));
    let value = secret.value(T1).unwrap();
    assert_eq!(
        create_secret(&secret, "s", T1).await,
        Ok(Outcome::AlreadyDone)
    );
    assert_eq!(secret.value(T1).unwrap(), value, "a retry keeps the value");
}

#[tokio::test]
async fn create_never_clobbers_another_pending_version() {
    let secret = MemorySecret::with_current("v1", OLD);
    create_secret(&secret, "s", T1).await.unwrap();
    let pending = secret.value(T1).unwrap();
    let before = secret.stages();

    let refused = create_secret(&secret, "s", T2).await;

    assert_eq!(
        refused,
        Err(RotationError::InProgress { version: T1.into() })
    );
    assert_eq!(secret.stages(), before);
    assert_eq!(secret.value(T1).unwrap(), pending);
}

#[tokio::test]
async fn test_secret_rejects_an_unusable_pending_value() {
    let secret = MemorySecret::with_current("v1", OLD);
    secret
        .put_pending("s", T1, &"too short".to_owned().into())
        .await
        .unwrap();

    assert_eq!(
        test_secret(&secret, "s", T1).await,
        Err(RotationError::BadKey(KeyError::Whitespace))
    );

    secret.start_rotation(T2);
    assert_eq!(
        test_secret(&secret, "s", T2).await,
        Err(RotationError::NoPendingValue { token: T2.into() })
    );
}

#[tokio::test]
async fn steps_refuse_tokens_that_are_not_pending() {
    let secret = MemorySecret::with_current("v1", OLD);
    all_steps(&secret, T1).await;

    for step in [Step::Set, Step::Test, Step::Finish] {
        assert_eq!(
            run_step(&secret, "s", T2, step).await,
            Err(RotationError::UnknownVersion { token: T2.into() })
        );
        assert_eq!(
            run_step(&secret, "s", "v1", step).await,
            Err(RotationError::NotPending { token: "v1".into() })
        );
    }
    assert_eq!(
        create_secret(&secret, "s", "v1").await,
        Err(RotationError::NotPending { token: "v1".into() })
    );
}

#[tokio::test]
async fn a_finish_interrupted_after_the_move_is_completed_by_its_retry() {
    let secret = MemorySecret::with_current("v1", OLD);
    create_secret(&secret, "s", T1).await.unwrap();
    secret
        .update_stage("s", VersionStage::Current, Some(T1), Some("v1"))
        .await
        .unwrap();

    assert_eq!(
        finish_secret(&secret, "s", T1).await,
        Ok(Outcome::AlreadyDone)
    );
    assert_eq!(
        secret.stages(),
        stages(&[("v1", &["AWSPREVIOUS"]), (T1, &["AWSCURRENT"])])
    );
}
