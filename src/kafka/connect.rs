//! The connection check every command makes before it talks to Kafka: a
//! wrong password, an untrusted certificate or a wrong address is reported
//! at once, by cause and with what to check, instead of as a time-out, and
//! never with a secret in the message.

use super::{client_config, KafkaError};
use crate::config::KafkaSettings;

/// How long [`check_connection`] waits for a broker to answer.
pub const CONNECTION_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);
/// How long connections may be refused (a broker restarting) before
/// [`check_connection`] reports that nothing listens at the address.
pub const REFUSED_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Why [`check_connection`] found no usable broker, each with what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionCause {
    /// The broker refused the SASL credentials (or the mechanism).
    #[error("authentication failed (SASL{}): check sasl.username and HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD", mechanism.as_deref().map(|m| format!("/{m}")).unwrap_or_default())]
    Authentication { mechanism: Option<String> },
    /// The broker's certificate did not verify against the trusted CAs (or
    /// does not name the address connected to).
    #[error("TLS handshake failed, the broker's certificate is not trusted: check ssl.ca.location and that the certificate covers the broker's address")]
    UntrustedCertificate,
    /// Any other TLS failure.
    #[error("TLS handshake failed: check security.protocol and the ssl.* properties")]
    Tls,
    /// The connection was closed during the handshake: the listener speaks
    /// another protocol (TLS against plain text or the reverse).
    #[error("the broker closed the connection during the handshake, the listener expects another security protocol: check security.protocol (HOTLIST_KAFKA_PROPERTY_SECURITY_PROTOCOL)")]
    WrongProtocol,
    /// Something answered that does not speak Kafka.
    #[error(
        "the address answered, but not as a Kafka broker: check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS"
    )]
    NotKafka,
    /// The broker's host name does not resolve.
    #[error("the broker's host name does not resolve: check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS")]
    Unresolvable,
    /// Every connection to the address was refused: nothing listens there.
    #[error("nothing listens there (connection refused): check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS")]
    Refused,
    /// Nothing answered in time (unreachable, or silent).
    #[error("no broker answered within {} s: check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS", waited.as_secs())]
    NoBroker { waited: std::time::Duration },
    /// librdkafka refused the client settings themselves.
    #[error("the client settings are refused ({detail}): check the [kafka] properties and the HOTLIST_KAFKA_PROPERTY_* variables")]
    InvalidSettings { detail: String },
}

impl ConnectionCause {
    /// True when waiting longer cannot help: the broker answered and refused.
    pub fn is_definitive(&self) -> bool {
        matches!(
            self,
            ConnectionCause::Authentication { .. } | ConnectionCause::UntrustedCertificate | ConnectionCause::Tls
        )
    }
}

/// The cause behind the errors librdkafka reported through its error
/// callback (code and reason), by code first; `None` when none of them
/// explains a failure. The reason text only refines a code (which TLS
/// failure, which transport failure); it is never shown.
pub fn classify_connection_errors(
    errors: &[(rdkafka::types::RDKafkaErrorCode, String)],
    mechanism: Option<&str>,
) -> Option<ConnectionCause> {
    use rdkafka::types::RDKafkaErrorCode as Code;
    let has = |code: Code| errors.iter().any(|(c, _)| *c == code);
    let reason_has = |code: Code, words: &[&str]| {
        errors
            .iter()
            .any(|(c, reason)| *c == code && words.iter().any(|w| reason.contains(w)))
    };
    if has(Code::Authentication) || has(Code::SaslAuthenticationFailed) {
        return Some(ConnectionCause::Authentication {
            mechanism: mechanism.map(str::to_owned),
        });
    }
    if reason_has(Code::SSL, &["certificate verify failed", "could not be verified"]) {
        return Some(ConnectionCause::UntrustedCertificate);
    }
    if has(Code::SSL) {
        return Some(ConnectionCause::Tls);
    }
    if reason_has(
        Code::BrokerTransportFailure,
        &["security.protocol", "PLAINTEXT broker listener"],
    ) {
        return Some(ConnectionCause::WrongProtocol);
    }
    if has(Code::Resolve) {
        return Some(ConnectionCause::Unresolvable);
    }
    if reason_has(Code::BrokerTransportFailure, &["Connection refused"]) {
        return Some(ConnectionCause::Refused);
    }
    if has(Code::BadMessage) {
        return Some(ConnectionCause::NotKafka);
    }
    // Every broker down, yet no connection failed: each accepted the
    // connection and closed it, which librdkafka logs but does not report
    // (plain text against a TLS listener does this).
    if !errors.is_empty() && errors.iter().all(|(c, _)| *c == Code::AllBrokersDown) {
        return Some(ConnectionCause::WrongProtocol);
    }
    None
}

/// The error [`check_connection`] returns for `cause`, with every secret
/// property value of `settings` (passwords, secrets, keys) blanked out of
/// anything that came from the settings or librdkafka.
pub fn connection_error(settings: &KafkaSettings, cause: ConnectionCause) -> KafkaError {
    let cause = match cause {
        ConnectionCause::Authentication { mechanism } => ConnectionCause::Authentication {
            mechanism: mechanism.map(|m| redact(settings, &m)),
        },
        ConnectionCause::InvalidSettings { detail } => ConnectionCause::InvalidSettings {
            detail: redact(settings, &detail),
        },
        other => other,
    };
    KafkaError::Unreachable {
        bootstrap: redact(settings, &settings.bootstrap_servers),
        cause,
    }
}

/// `text` with the value of every secret property replaced by `***`.
fn redact(settings: &KafkaSettings, text: &str) -> String {
    let secret = |name: &str| {
        [
            "password",
            "secret",
            "jaas",
            "oauthbearer.config",
            "key.pem",
            "certificate.pem",
        ]
        .iter()
        .any(|word| name.contains(word))
    };
    settings
        .properties
        .iter()
        .filter(|(name, value)| secret(name) && !value.is_empty())
        .fold(text.to_owned(), |text, (_, value)| text.replace(value.as_str(), "***"))
}

/// Errors that librdkafka reported through the error callback of the check's client.
#[derive(Default)]
struct CheckContext {
    errors: std::sync::Mutex<Vec<(rdkafka::types::RDKafkaErrorCode, String)>>,
}

impl rdkafka::ClientContext for CheckContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::debug!(error = %error, reason, "kafka connection check");
        let code = error
            .rdkafka_error_code()
            .unwrap_or(rdkafka::types::RDKafkaErrorCode::Fail);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < 100 {
            errors.push((code, reason.to_owned()));
        }
    }
}

impl rdkafka::producer::ProducerContext for CheckContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

/// Checks, before anything else talks to Kafka, that a broker answers with
/// these settings: fetches the cluster's metadata for up to
/// [`CONNECTION_CHECK_TIMEOUT`] and returns [`KafkaError::Unreachable`]
/// naming the cause (authentication, TLS, no broker...) and what to check.
/// librdkafka only retries quietly on such failures, reporting them through
/// its error callback, which the check's client captures; a refusal ends
/// the check at once.
pub fn check_connection(settings: &KafkaSettings) -> Result<(), KafkaError> {
    check_connection_within(settings, CONNECTION_CHECK_TIMEOUT)
}

/// [`check_connection`] off the async runtime's threads.
pub async fn check_connection_async(settings: &KafkaSettings) -> Result<(), KafkaError> {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || check_connection(&settings))
        .await
        .map_err(|e| KafkaError::Topic {
            topic: "connection check".into(),
            reason: e.to_string(),
        })?
}

/// [`check_connection`] with a deadline of `timeout`.
pub fn check_connection_within(settings: &KafkaSettings, timeout: std::time::Duration) -> Result<(), KafkaError> {
    use rdkafka::producer::{BaseProducer, Producer};
    use std::time::{Duration, Instant};
    let mechanism = settings
        .properties
        .get("sasl.mechanisms")
        .or_else(|| settings.properties.get("sasl.mechanism"))
        .map(String::as_str);
    let producer: BaseProducer<CheckContext> = client_config(settings)
        .create_with_context(CheckContext::default())
        .map_err(|e| {
            let detail = match &e {
                // Its Display carries the value, which may be a secret.
                rdkafka::error::KafkaError::ClientConfig(_, description, key, _) => format!("{key}: {description}"),
                other => other.to_string(),
            };
            connection_error(settings, ConnectionCause::InvalidSettings { detail })
        })?;
    let started = Instant::now();
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let attempt = left.min(Duration::from_millis(400));
        let fetched = producer.client().fetch_metadata(None, attempt);
        if fetched.is_ok() {
            return Ok(());
        }
        // Serves every queued event (log lines too) until the time is up,
        // running the error callback on each error.
        producer.poll(Duration::from_millis(50));
        let errors = producer
            .context()
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let cause = classify_connection_errors(&errors, mechanism);
        let out_of_time = started.elapsed() >= timeout;
        match cause {
            Some(cause) if cause.is_definitive() || out_of_time => return Err(connection_error(settings, cause)),
            Some(ConnectionCause::Refused) if started.elapsed() >= REFUSED_GRACE => {
                return Err(connection_error(settings, ConnectionCause::Refused))
            }
            None if out_of_time => {
                return Err(connection_error(
                    settings,
                    ConnectionCause::NoBroker { waited: timeout },
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use rdkafka::types::RDKafkaErrorCode as Code;

    const PASSWORD: &str = "s3cret-Pa55word";

    fn settings(bootstrap: &str) -> KafkaSettings {
        let env = [
            ("HOTLIST_BOOTSTRAP_SERVERS", bootstrap),
            ("HOTLIST_KAFKA_PROPERTY_SECURITY_PROTOCOL", "SASL_SSL"),
            ("HOTLIST_KAFKA_PROPERTY_SASL_MECHANISMS", "SCRAM-SHA-512"),
            ("HOTLIST_KAFKA_PROPERTY_SASL_USERNAME", "hotlist"),
            ("HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD", PASSWORD),
            ("HOTLIST_KAFKA_PROPERTY_SSL_KEY_PASSWORD", "key-Pa55"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        Config::from_toml(&crate::config::development_toml(), env)
            .unwrap()
            .kafka
    }

    fn message(errors: &[(Code, &str)]) -> String {
        let settings = settings("127.0.0.1:9094");
        let errors: Vec<(Code, String)> = errors.iter().map(|(c, r)| (*c, r.to_string())).collect();
        let cause = classify_connection_errors(&errors, Some("SCRAM-SHA-512")).unwrap_or(ConnectionCause::NoBroker {
            waited: CONNECTION_CHECK_TIMEOUT,
        });
        connection_error(&settings, cause).to_string()
    }

    #[test]
    fn each_cause_is_named_with_the_address_and_what_to_check() {
        let auth = "sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
        let untrusted = "sasl_ssl://127.0.0.1:9094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package)";
        let refused = "127.0.0.1:9099/bootstrap: Connect to ipv4#127.0.0.1:9099 failed: Connection refused";
        let plaintext_to_tls = "127.0.0.1:9094/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see api.version.request)";
        let cases: [(&[(Code, &str)], &str); 9] = [
            (
                &[(Code::BrokerTransportFailure, "x"), (Code::Authentication, auth), (Code::AllBrokersDown, "1/1 brokers are down")],
                "cannot reach Kafka at 127.0.0.1:9094: authentication failed (SASL/SCRAM-SHA-512): check sasl.username and HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD",
            ),
            (
                &[(Code::SSL, untrusted), (Code::AllBrokersDown, "1/1 brokers are down")],
                "cannot reach Kafka at 127.0.0.1:9094: TLS handshake failed, the broker's certificate is not trusted: check ssl.ca.location and that the certificate covers the broker's address",
            ),
            (
                &[(Code::SSL, "SSL handshake failed: error:0A00010B:SSL routines::wrong version number")],
                "cannot reach Kafka at 127.0.0.1:9094: TLS handshake failed: check security.protocol and the ssl.* properties",
            ),
            (
                &[(Code::BrokerTransportFailure, plaintext_to_tls), (Code::AllBrokersDown, "1/1 brokers are down")],
                "cannot reach Kafka at 127.0.0.1:9094: the broker closed the connection during the handshake, the listener expects another security protocol: check security.protocol (HOTLIST_KAFKA_PROPERTY_SECURITY_PROTOCOL)",
            ),
            (
                // What plain text against the TLS listener yields: the close
                // is only logged.
                &[(Code::AllBrokersDown, "1/1 brokers are down")],
                "cannot reach Kafka at 127.0.0.1:9094: the broker closed the connection during the handshake, the listener expects another security protocol: check security.protocol (HOTLIST_KAFKA_PROPERTY_SECURITY_PROTOCOL)",
            ),
            (
                &[(Code::Resolve, "kafka.invalid:9094/bootstrap: Failed to resolve 'kafka.invalid:9094': Name or service not known")],
                "cannot reach Kafka at 127.0.0.1:9094: the broker's host name does not resolve: check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS",
            ),
            (
                &[
                    (Code::BadMessage, "127.0.0.1:9094/bootstrap: Receive failed: Invalid response size 1213486160 (0..100000000): increase receive.message.max.bytes"),
                    (Code::AllBrokersDown, "1/1 brokers are down"),
                ],
                "cannot reach Kafka at 127.0.0.1:9094: the address answered, but not as a Kafka broker: check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS",
            ),
            (
                &[(Code::BrokerTransportFailure, refused), (Code::AllBrokersDown, "1/1 brokers are down")],
                "cannot reach Kafka at 127.0.0.1:9094: nothing listens there (connection refused): check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS",
            ),
            (
                &[],
                "cannot reach Kafka at 127.0.0.1:9094: no broker answered within 8 s: check kafka.bootstrap_servers / HOTLIST_BOOTSTRAP_SERVERS",
            ),
        ];
        for (errors, expected) in cases {
            assert_eq!(message(errors), expected, "{errors:?}");
        }
    }

    #[test]
    fn only_refusals_end_the_check_early() {
        let definitive = |errors: &[(Code, &str)]| {
            let errors: Vec<(Code, String)> = errors.iter().map(|(c, r)| (*c, r.to_string())).collect();
            classify_connection_errors(&errors, None).is_some_and(|c| c.is_definitive())
        };
        assert!(definitive(&[(Code::Authentication, "")]));
        assert!(definitive(&[(Code::SSL, "certificate verify failed")]));
        assert!(definitive(&[(Code::SSL, "")]));
        assert!(!definitive(&[
            (Code::AllBrokersDown, ""),
            (Code::BrokerTransportFailure, "refused")
        ]));
        assert!(!definitive(&[(Code::Resolve, "")]));
        assert!(!definitive(&[(Code::AllBrokersDown, "")]));
        assert!(!definitive(&[]));
    }

    #[test]
    fn no_message_carries_a_password_from_the_settings() {
        // Even where a secret was misplaced into a value that is shown
        // (the address, the mechanism) or echoed by librdkafka.
        let settings = settings(&format!("{PASSWORD}@127.0.0.1:9094"));
        let causes = [
            ConnectionCause::Authentication {
                mechanism: Some(format!("SCRAM-SHA-512 {PASSWORD}")),
            },
            ConnectionCause::UntrustedCertificate,
            ConnectionCause::Tls,
            ConnectionCause::WrongProtocol,
            ConnectionCause::Unresolvable,
            ConnectionCause::Refused,
            ConnectionCause::NotKafka,
            ConnectionCause::NoBroker {
                waited: CONNECTION_CHECK_TIMEOUT,
            },
            ConnectionCause::InvalidSettings {
                detail: format!("Invalid value \"{PASSWORD}\" and \"key-Pa55\" for configuration property"),
            },
        ];
        for cause in causes {
            let error = connection_error(&settings, cause);
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(!shown.contains(PASSWORD), "{shown}");
                assert!(!shown.contains("key-Pa55"), "{shown}");
                assert!(shown.contains("127.0.0.1:9094"), "{shown}");
            }
        }
    }

    #[test]
    fn settings_librdkafka_refuses_are_reported_without_their_value() {
        let mut settings = settings("127.0.0.1:9094");
        settings.properties.insert("sasl.mechanisms".into(), PASSWORD.into());
        settings.properties.insert("security.protocol".into(), PASSWORD.into());
        let error = check_connection_within(&settings, std::time::Duration::from_secs(1)).unwrap_err();
        let shown = error.to_string();
        assert!(
            matches!(
                &error,
                KafkaError::Unreachable {
                    cause: ConnectionCause::InvalidSettings { .. },
                    ..
                }
            ),
            "{shown}"
        );
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(
            shown.starts_with("cannot reach Kafka at 127.0.0.1:9094: the client settings are refused ("),
            "{shown}"
        );
    }
}
