use super::*;
use crate::config::ClientConfig;

fn config(pairs: &[(&str, &str)]) -> Result<ClientConfig, Error> {
    let mut c = ClientConfig::new("127.0.0.1:9093")?;
    for (k, v) in pairs {
        c.set(k, v)?;
    }
    Ok(c)
}

#[test]
fn plaintext_by_default_and_protocol_names_are_case_insensitive() {
    assert_eq!(
        ClientConfig::default().security.protocol,
        SecurityProtocol::Plaintext
    );
    let c = config(&[("security.protocol", "sasl_ssl")]).unwrap();
    assert_eq!(c.security.protocol, SecurityProtocol::SaslSsl);
    let err = config(&[("security.protocol", "TLS")]).unwrap_err();
    assert!(err.to_string().contains("SASL_SSL"), "{err}");
}

#[test]
fn java_and_librdkafka_names_fill_the_same_fields() {
    let java = config(&[
        ("sasl.mechanism", "SCRAM-SHA-512"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\"w;d";"#,
        ),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", "/tmp/ca.pem"),
    ])
    .unwrap();
    let rdkafka = config(&[
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "alice"),
        ("sasl.password", "p\"w;d"),
        ("ssl.ca.location", "/tmp/ca.pem"),
    ])
    .unwrap();
    assert_eq!(java.security.sasl, rdkafka.security.sasl);
    assert_eq!(java.security.tls.ca, rdkafka.security.tls.ca);
    match java.security.sasl.credentials().unwrap() {
        Credentials::Password {
            mechanism,
            username,
            password,
        } => {
            assert_eq!(mechanism, Mechanism::ScramSha512);
            assert_eq!(username, "alice");
            assert_eq!(password.expose(), "p\"w;d");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn secrets_stay_out_of_debug_output_and_errors() {
    let c = config(&[
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="hunter2";"#,
        ),
        ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----hunter3"),
    ])
    .unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("hunter3"),
        "{shown}"
    );
    // A malformed JAAS line, a typo'd password key: the error names the key, not the value.
    let bad_jaas = config(&[(
        "sasl.jaas.config",
        "PlainLoginModule required password=hunter2",
    )])
    .unwrap_err()
    .to_string();
    assert!(
        bad_jaas.contains("sasl.jaas.config") && !bad_jaas.contains("hunter2"),
        "{bad_jaas}"
    );
    let typo = config(&[("sasl.pasword", "hunter2")])
        .unwrap_err()
        .to_string();
    assert!(
        typo.contains("sasl.pasword") && !typo.contains("hunter2"),
        "{typo}"
    );
}

#[test]
fn sasl_without_a_usable_mechanism_fails_validation_with_the_key() {
    let none = config(&[("security.protocol", "SASL_PLAINTEXT")]).unwrap();
    let err = none.validate().unwrap_err().to_string();
    assert!(
        err.contains("sasl.mechanism") && err.contains("GSSAPI"),
        "{err}"
    );
    let gssapi = config(&[("sasl.mechanism", "GSSAPI")])
        .unwrap_err()
        .to_string();
    assert!(gssapi.contains("not supported"), "{gssapi}");
    let no_password = config(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "alice"),
    ])
    .unwrap();
    let err = no_password.validate().unwrap_err().to_string();
    assert!(
        err.contains("sasl.username") && err.contains("password"),
        "{err}"
    );
    let oauth = config(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
    ])
    .unwrap();
    assert!(oauth
        .validate()
        .unwrap_err()
        .to_string()
        .contains("token source"));
}

#[test]
fn unsecured_oauthbearer_from_java_and_librdkafka() {
    let java = config(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=\"alice\" unsecuredLoginLifetimeSeconds=\"60\" \
             unsecuredLoginListClaim_scope=\",read,write\" unsecuredLoginExtension_tenant=\"t1\";",
        ),
    ])
    .unwrap();
    let rdkafka = config(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "OAUTHBEARER"),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        (
            "sasl.oauthbearer.config",
            "principal=alice lifeSeconds=60 scope=read,write extension_tenant=t1",
        ),
    ])
    .unwrap();
    let expected = OAuthBearer::Unsecured {
        principal: "alice".into(),
        lifetime: Duration::from_secs(60),
        scope: vec!["read".into(), "write".into()],
        extensions: vec![("tenant".into(), "t1".into())],
    };
    for c in [java, rdkafka] {
        match c.security.sasl.credentials().unwrap() {
            Credentials::OAuthBearer(source) => assert_eq!(source, expected),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn jaas_lines_that_kafka_would_refuse_are_refused() {
    for line in [
        "",
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\"",
        "org.apache.kafka.common.security.plain.PlainLoginModule bogus username=\"a\";",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username;",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a;",
        "com.sun.security.auth.module.Krb5LoginModule required;",
        "org.apache.kafka.common.security.plain.PlainLoginModule required; x required;",
    ] {
        let err = config(&[("sasl.jaas.config", line)]);
        assert!(err.is_err(), "accepted: {line:?}");
    }
}

#[test]
fn jks_and_pkcs12_stores_get_a_convert_to_pem_error() {
    let c = config(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "JKS"),
        ("ssl.truststore.location", "/tmp/truststore.jks"),
    ])
    .unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("ssl.truststore.type") && err.contains("PEM"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("fk-pkcs12-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("store.p12");
    std::fs::write(&store, [0x30, 0x82, 0x0a, 0x01, 0x02, 0x01, 0x03]).unwrap();
    let c = config(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", store.to_str().unwrap()),
    ])
    .unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("not a PEM file") && err.contains("keytool"),
        "{err}"
    );
    let missing = config(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", "/nonexistent/ca.pem"),
    ])
    .unwrap();
    let err = missing.validate().unwrap_err().to_string();
    assert!(
        err.contains("/nonexistent/ca.pem") && err.contains("cannot read"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn endpoint_identification_and_versions() {
    let c = config(&[
        ("ssl.endpoint.identification.algorithm", ""),
        ("ssl.enabled.protocols", "TLSv1.3"),
    ])
    .unwrap();
    assert!(!c.security.tls.verify_hostname);
    assert_eq!(c.security.tls.versions, [TlsVersion::Tls13]);
    assert!(ClientConfig::default().security.tls.verify_hostname);
    assert!(config(&[("ssl.endpoint.identification.algorithm", "ldap")]).is_err());
    assert!(config(&[("ssl.enabled.protocols", "TLSv1.1")]).is_err());
}

#[test]
fn every_listed_key_is_a_security_key() {
    for key in KEYS {
        let mut s = SecurityConfig::default();
        // Values that parse for every key, or errors that are about the value, not the key.
        match s.set(key, "PEM") {
            Ok(known) => assert!(known, "{key} not handled"),
            Err(Error::InvalidConfig { key: k, .. }) => assert_eq!(&k, key),
            Err(other) => panic!("{key}: {other}"),
        }
    }
}
