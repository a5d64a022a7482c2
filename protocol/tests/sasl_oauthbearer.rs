//! OAUTHBEARER: client message against the server's parser, Kafka's unsecured JWTs, and the
//! error-challenge round.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ferrokafka_protocol::sasl::oauthbearer::{
    client_message, error_challenge, parse_client_message, parse_error_challenge, unsecured_jwt,
    validate_extensions, validate_unsecured_jwt, ClientMessage, UnsecuredJwt,
    ERROR_ACKNOWLEDGEMENT, MAX_CLIENT_MESSAGE_LEN, MAX_TOKEN_LEN,
};
use ferrokafka_protocol::sasl::{Mechanism, SaslError, Secret};

const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn is_malformed<T: std::fmt::Debug>(result: &Result<T, SaslError>) -> bool {
    matches!(
        result,
        Err(SaslError::Malformed {
            mechanism: Mechanism::OAuthBearer,
            ..
        })
    )
}

fn is_refused<T: std::fmt::Debug>(result: &Result<T, SaslError>) -> bool {
    matches!(result, Err(SaslError::AuthenticationFailed(_)))
}

/// A token from raw JSON parts, for shapes `unsecured_jwt` will not make.
fn token(header: &str, claims: &str) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

#[test]
fn client_and_server_agree() {
    let jwt = unsecured_jwt("alice", NOW, HOUR, &["read".to_owned(), "write".to_owned()]);
    let extensions = vec![
        ("traceId".to_owned(), "abc 123".to_owned()),
        ("logicalCluster".to_owned(), "lkc-1=2".to_owned()),
    ];
    validate_extensions(&extensions).unwrap();
    let message = client_message(&jwt, Some("alice"), &extensions);

    // The server's side.
    let parsed = parse_client_message(&message).unwrap();
    assert_eq!(
        parsed,
        ClientMessage {
            token: Secret::new(jwt.clone()),
            authzid: Some("alice".into()),
            extensions,
        }
    );
    let claims = validate_unsecured_jwt(parsed.token.expose(), NOW + 1, 0).unwrap();
    assert_eq!(
        claims,
        UnsecuredJwt {
            principal: "alice".into(),
            issued_at_ms: Some(NOW),
            expires_at_ms: NOW + HOUR,
            scope: vec!["read".into(), "write".into()],
        }
    );
    parsed.check_authzid(&claims.principal).unwrap();
    assert!(is_refused(&parsed.check_authzid("bob")));
}

#[test]
fn a_refused_token_goes_through_the_error_challenge() {
    let jwt = unsecured_jwt("alice", NOW - 2 * HOUR, HOUR, &[]);
    let parsed = parse_client_message(&client_message(&jwt, None, &[])).unwrap();
    assert_eq!(parsed.authzid, None);
    let verdict = validate_unsecured_jwt(parsed.token.expose(), NOW, 30_000);
    assert!(is_refused(&verdict), "{verdict:?}");
    // The server challenges with JSON, the client reads the status and acknowledges.
    let challenge = error_challenge("invalid_token");
    assert_eq!(challenge, br#"{"status":"invalid_token"}"#);
    assert_eq!(parse_error_challenge(&challenge).unwrap(), "invalid_token");
    assert_eq!(ERROR_ACKNOWLEDGEMENT, b"\x01");
    assert!(is_malformed(&parse_error_challenge(b"not json")));
}

#[test]
fn the_server_accepts_rfc_7628_variants() {
    // The scheme is case-insensitive and may be followed by several spaces; no extensions.
    let parsed = parse_client_message(b"n,,\x01auth=bearer   abc.def.\x01\x01").unwrap();
    assert_eq!(parsed.token.expose(), "abc.def.");
    assert!(parsed.extensions.is_empty());
    // An escaped authorization id, an extension before auth.
    let parsed =
        parse_client_message(b"n,a=a=2Cb=3Dc,\x01k=v\x01auth=Bearer t0k+/=\x01\x01").unwrap();
    assert_eq!(parsed.authzid.as_deref(), Some("a,b=c"));
    assert_eq!(parsed.extensions, vec![("k".to_owned(), "v".to_owned())]);
    assert_eq!(parsed.token.expose(), "t0k+/=");
}

#[test]
fn the_server_refuses_malformed_client_messages() {
    for bad in [
        &b""[..],
        b"n,,",
        b"n,,\x01",
        b"n,,\x01\x01",                            // no auth
        b"y,,\x01auth=Bearer t\x01\x01",           // channel binding flag
        b"n,,auth=Bearer t\x01\x01",               // no leading 0x01
        b"n,,\x01auth=Bearer t\x01",               // no final 0x01
        b"n,,\x01auth=Bearer t\x01k=v\x01",        // last pair unterminated
        b"n,,\x01auth=Basic dXNlcjpwdw==\x01\x01", // another scheme
        b"n,,\x01auth=Bearer\x01\x01",             // no token
        b"n,,\x01auth=Bearer \x01\x01",            // empty token
        b"n,,\x01auth=Bearer a b\x01\x01",         // space in the token
        b"n,,\x01auth=Bearer a=b\x01\x01",         // '=' inside the token
        b"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01",
        b"n,,\x01auth=Bearer t\x01k1=v\x01\x01", // key not letters
        b"n,,\x01auth=Bearer t\x01=v\x01\x01",
        b"n,,\x01auth=Bearer t\x01k=\x01\x01", // empty value
        b"n,,\x01auth=Bearer t\x01k=\x02\x01\x01", // control character
        b"n,,\x01auth=Bearer t\x01k=v\x01k=w\x01\x01",
        b"n,,\x01auth=Bearer t\x01kv\x01\x01",
        b"n,,\x01auth=Bearer t\x01\x01\x01", // an empty pair
        b"n,a=,\x01auth=Bearer t\x01\x01",
        b"n,a=x=y,\x01auth=Bearer t\x01\x01",
        b"n,z=x,\x01auth=Bearer t\x01\x01",
        b"n,,\x01auth=Bearer t\xff\x01\x01",
    ] {
        let result = parse_client_message(bad);
        assert!(
            is_malformed(&result),
            "{:?}: {result:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn sizes_are_bounded_before_parsing() {
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    let result = parse_client_message(&client_message(&long, None, &[]));
    assert!(is_malformed(&result), "{result:?}");
    let huge = vec![b'a'; MAX_CLIENT_MESSAGE_LEN + 1];
    assert!(is_malformed(&parse_client_message(&huge)));
    let just_fits = "a".repeat(MAX_TOKEN_LEN);
    assert!(parse_client_message(&client_message(&just_fits, None, &[])).is_ok());
    assert!(is_malformed(&validate_unsecured_jwt(&long, NOW, 0)));
}

#[test]
fn the_token_never_shows_in_debug_or_errors() {
    let jwt = unsecured_jwt("alice", NOW, HOUR, &[]);
    let parsed = parse_client_message(&client_message(&jwt, None, &[])).unwrap();
    let shown = format!("{parsed:?}");
    assert!(!shown.contains(&jwt), "{shown}");
    assert!(shown.contains("Secret([redacted])"));
    let expired = validate_unsecured_jwt(&jwt, NOW + 2 * HOUR, 0).unwrap_err();
    assert!(!expired.to_string().contains(&jwt));
}

#[test]
fn extensions_are_validated_for_the_client() {
    let ext = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    assert!(validate_extensions(&ext("traceId", "x y\tz")).is_ok());
    for bad in [
        ext("auth", "x"),
        ext("k1", "x"),
        ext("", "x"),
        ext("k", ""),
        ext("k", "\u{1}"),
        ext("k", "é"),
        vec![("k".into(), "a".into()), ("k".into(), "b".into())],
    ] {
        assert!(
            matches!(validate_extensions(&bad), Err(SaslError::Invalid(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn unsecured_jwts_build_and_validate() {
    let jwt = unsecured_jwt("svc-1", NOW + 250, 90_000, &[]);
    assert!(jwt.ends_with('.'));
    assert_eq!(jwt.split('.').count(), 3);
    let claims = validate_unsecured_jwt(&jwt, NOW, 1000).unwrap();
    assert_eq!(claims.principal, "svc-1");
    assert_eq!(
        claims.issued_at_ms,
        Some(NOW + 250),
        "fractional NumericDate"
    );
    assert_eq!(claims.expires_at_ms, NOW + 250 + 90_000);
    assert!(claims.scope.is_empty());

    // Padding is tolerated, as is a scope given as one string; iat is optional.
    let claims = validate_unsecured_jwt(
        &format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"bob","exp":1700000100.5,"scope":" admin "}"#)
        ),
        NOW,
        0,
    )
    .unwrap();
    assert_eq!(claims.issued_at_ms, None);
    assert_eq!(claims.expires_at_ms, NOW + 100_500);
    assert_eq!(claims.scope, vec!["admin".to_owned()]);
}

#[test]
fn expiry_and_issue_time_are_checked_with_the_skew() {
    let jwt = unsecured_jwt("alice", NOW, HOUR, &[]);
    assert!(validate_unsecured_jwt(&jwt, NOW + HOUR - 1, 0).is_ok());
    assert!(
        is_refused(&validate_unsecured_jwt(&jwt, NOW + HOUR, 0)),
        "expired at exp"
    );
    assert!(
        validate_unsecured_jwt(&jwt, NOW + HOUR, 1).is_ok(),
        "within skew"
    );
    assert!(is_refused(&validate_unsecured_jwt(&jwt, NOW + HOUR + 1, 1)));
    // Issued in the future.
    assert!(is_refused(&validate_unsecured_jwt(&jwt, NOW - 10_000, 0)));
    assert!(validate_unsecured_jwt(&jwt, NOW - 10_000, 10_000).is_ok());
    // Expiring before it was issued.
    let backwards = token(
        r#"{"alg":"none"}"#,
        r#"{"sub":"a","iat":1700000000,"exp":1699999999}"#,
    );
    assert!(is_refused(&validate_unsecured_jwt(
        &backwards,
        NOW - HOUR,
        HOUR
    )));
    assert!(matches!(
        validate_unsecured_jwt(&jwt, NOW, -1),
        Err(SaslError::Invalid(_))
    ));
    // Extreme times do not overflow.
    assert!(validate_unsecured_jwt(&jwt, i64::MAX, i64::MAX).is_ok());
    assert!(is_refused(&validate_unsecured_jwt(&jwt, i64::MIN, 0)));
    assert!(is_refused(&validate_unsecured_jwt(&jwt, i64::MAX, 0)));
    assert!(
        validate_unsecured_jwt(&unsecured_jwt("a", i64::MAX - 5, i64::MAX, &[]), 0, 0).is_err()
    );
}

#[test]
fn unsecured_jwts_of_the_wrong_shape_are_refused() {
    let claims = r#"{"sub":"alice","exp":1800000000}"#;
    let signed = token(r#"{"alg":"HS256","typ":"JWT"}"#, claims);
    assert!(
        is_refused(&validate_unsecured_jwt(&signed, NOW, 0)),
        "alg other than none"
    );

    let malformed_cases = [
        (
            "missing sub",
            token(r#"{"alg":"none"}"#, r#"{"exp":1800000000}"#),
        ),
        (
            "blank sub",
            token(r#"{"alg":"none"}"#, r#"{"sub":"  ","exp":1800000000}"#),
        ),
        (
            "numeric sub",
            token(r#"{"alg":"none"}"#, r#"{"sub":7,"exp":1800000000}"#),
        ),
        (
            "missing exp",
            token(r#"{"alg":"none"}"#, r#"{"sub":"alice"}"#),
        ),
        (
            "string exp",
            token(r#"{"alg":"none"}"#, r#"{"sub":"alice","exp":"1800000000"}"#),
        ),
        (
            "string iat",
            token(
                r#"{"alg":"none"}"#,
                r#"{"sub":"alice","exp":1800000000,"iat":"x"}"#,
            ),
        ),
        (
            "huge exp",
            token(r#"{"alg":"none"}"#, r#"{"sub":"alice","exp":1e300}"#),
        ),
        (
            "numeric scope",
            token(
                r#"{"alg":"none"}"#,
                r#"{"sub":"alice","exp":1800000000,"scope":1}"#,
            ),
        ),
        (
            "scope entry",
            token(
                r#"{"alg":"none"}"#,
                r#"{"sub":"alice","exp":1800000000,"scope":[1]}"#,
            ),
        ),
        ("missing alg", token(r#"{"typ":"JWT"}"#, claims)),
        ("numeric alg", token(r#"{"alg":0}"#, claims)),
        (
            "2 parts",
            token(r#"{"alg":"none"}"#, claims)
                .trim_end_matches('.')
                .to_owned(),
        ),
        ("4 parts", token(r#"{"alg":"none"}"#, claims) + "."),
        ("signature", token(r#"{"alg":"none"}"#, claims) + "c2ln"),
        ("non-JSON claims", token(r#"{"alg":"none"}"#, "not json")),
        ("JSON array claims", token(r#"{"alg":"none"}"#, "[1,2]")),
        ("non-JSON header", token("{alg:none}", claims)),
        (
            "not base64url",
            format!("{}.!!!.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#)),
        ),
        ("empty", String::new()),
        (
            "over 64 KiB",
            token(
                r#"{"alg":"none"}"#,
                &format!(
                    r#"{{"sub":"{}","exp":1800000000}}"#,
                    "a".repeat(MAX_TOKEN_LEN)
                ),
            ),
        ),
    ];
    for (what, token) in malformed_cases {
        let result = validate_unsecured_jwt(&token, NOW, 0);
        assert!(is_malformed(&result), "{what}: {result:?}");
    }
}
