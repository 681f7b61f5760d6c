//! Python-free signing core: HMAC-SHA256, Meta's `X-Hub-Signature-256` and Standard Webhooks.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of Meta's `X-Hub-Signature-256` header value.
pub const HUB_PREFIX: &str = "sha256=";
/// Prefix of a Standard Webhooks secret in its text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Length of an HMAC-SHA256 tag in bytes.
pub const TAG_LEN: usize = 32;

/// Decodes standard-alphabet base64 with the padding stripped first, so padded, unpadded and
/// over-padded text all decode alike; non-zero trailing bits are accepted as Python does.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Why a webhook secret was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    NoSecrets,
    Empty(usize),
    BadBase64(usize, String),
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSecrets => f.write_str("at least one webhook secret is required"),
            Self::Empty(i) => write!(f, "webhook secret #{i} is empty"),
            Self::BadBase64(i, why) => write!(f, "webhook secret #{i} is not valid base64: {why}"),
        }
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC accepts any key length")
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = keyed(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Base64 (standard alphabet, lenient padding) to bytes.
pub fn decode_b64(text: &str) -> Option<Vec<u8>> {
    LENIENT_B64.decode(text.trim_end_matches('=')).ok()
}

/// A key for Meta webhooks, keyed once and reused for every body.
#[derive(Clone)]
pub struct HubKey(HmacSha256);

impl HubKey {
    pub fn new(app_secret: &[u8]) -> Self {
        Self(keyed(app_secret))
    }

    /// The `X-Hub-Signature-256` value of `body`: `sha256=<lowercase hex>`.
    pub fn signature(&self, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(body);
        let mut out = String::with_capacity(HUB_PREFIX.len() + 2 * TAG_LEN);
        out.push_str(HUB_PREFIX);
        out.push_str(&hex::encode(mac.finalize().into_bytes()));
        out
    }

    /// Whether `header` is the signature of `body`; the tag comparison is constant-time.
    pub fn verify(&self, body: &[u8], header: Option<&str>) -> bool {
        let Some(hex_tag) = header.and_then(|h| h.strip_prefix(HUB_PREFIX)) else {
            return false;
        };
        if hex_tag.len() != 2 * TAG_LEN {
            return false;
        }
        let mut tag = [0u8; TAG_LEN];
        if hex::decode_to_slice(hex_tag, &mut tag).is_err() {
            return false;
        }
        let mut mac = self.0.clone();
        mac.update(body);
        mac.verify_slice(&tag).is_ok()
    }
}

/// `sha256=<hex>` of `body` under `app_secret` (Meta's `X-Hub-Signature-256`).
pub fn hub_signature(app_secret: &[u8], body: &[u8]) -> String {
    HubKey::new(app_secret).signature(body)
}

/// Constant-time check of an `X-Hub-Signature-256` header against `body`.
pub fn verify_hub_signature(app_secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    HubKey::new(app_secret).verify(body, header)
}

/// A secret as given by the caller: `whsec_<base64>` text (prefix optional) or raw bytes.
pub enum SecretInput<'a> {
    Text(&'a str),
    Raw(&'a [u8]),
}

/// Secret bytes from the text form `whsec_<base64>` (the prefix is optional).
pub fn decode_secret(text: &str) -> Option<Vec<u8>> {
    decode_b64(text.strip_prefix(SECRET_PREFIX).unwrap_or(text))
}

/// Signs and verifies Standard Webhooks (`v1,<base64>` over `{id}.{timestamp}.{body}`).
///
/// Several secrets support rotation: each one signs, any one verifies.
#[derive(Clone)]
pub struct StandardSigner {
    keys: Vec<HmacSha256>,
}

impl StandardSigner {
    pub fn new<'a>(
        secrets: impl IntoIterator<Item = SecretInput<'a>>,
    ) -> Result<Self, SecretError> {
        let mut keys = Vec::new();
        for (i, secret) in secrets.into_iter().enumerate() {
            let bytes = match secret {
                SecretInput::Raw(raw) => raw.to_vec(),
                SecretInput::Text(text) => decode_secret(text).ok_or_else(|| {
                    SecretError::BadBase64(i, "expected whsec_<base64>".to_owned())
                })?,
            };
            if bytes.is_empty() {
                return Err(SecretError::Empty(i));
            }
            keys.push(keyed(&bytes));
        }
        if keys.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Self { keys })
    }

    fn content_macs(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<HmacSha256> {
        let ts = timestamp.to_string();
        self.keys
            .iter()
            .map(|key| {
                let mut mac = key.clone();
                mac.update(msg_id.as_bytes());
                mac.update(b".");
                mac.update(ts.as_bytes());
                mac.update(b".");
                mac.update(body);
                mac
            })
            .collect()
    }

    /// Space-separated `v1,<base64>` signatures, one per secret in secret order.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let macs = self.content_macs(msg_id, timestamp, body);
        let mut out = String::with_capacity(macs.len() * 48);
        for (i, mac) in macs.into_iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str("v1,");
            STANDARD.encode_string(mac.finalize().into_bytes(), &mut out);
        }
        out
    }

    /// Whether any `v1,` entry of `header` matches any secret (each tag comparison is
    /// constant-time) and `timestamp` is within `tolerance_s` seconds of `now`.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
        header: &str,
        now: i64,
        tolerance_s: u64,
    ) -> bool {
        if now.abs_diff(timestamp) > tolerance_s {
            return false;
        }
        let tags: Vec<Vec<u8>> = header
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| decode_b64(sig))
            .collect();
        if tags.is_empty() {
            return false;
        }
        let macs = self.content_macs(msg_id, timestamp, body);
        tags.iter()
            .any(|tag| macs.iter().any(|mac| mac.clone().verify_slice(tag).is_ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TS: i64 = 1_614_265_330;
    const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
    // Computed with Python's hmac/hashlib/base64 (and equal to the Standard Webhooks spec example).
    const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const SW_SIG_RAW2: &str = "v1,akNWEVQ5TV6d469bl2RgznrrKTZ26nuPzX8pfhMYvJc=";

    fn signer(secrets: Vec<SecretInput<'_>>) -> StandardSigner {
        StandardSigner::new(secrets).expect("valid secrets")
    }

    #[test]
    fn rfc4231_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hub_signature_format_and_vector() {
        let sig = hub_signature(b"app-secret", br#"{"object":"whatsapp_business_account"}"#);
        assert_eq!(
            sig,
            "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923"
        );
    }

    #[test]
    fn hub_verify_accepts_own_signature_in_either_case() {
        let sig = hub_signature(b"k", b"body");
        assert!(verify_hub_signature(b"k", b"body", Some(&sig)));
        let upper = format!("sha256={}", sig[7..].to_uppercase());
        assert!(verify_hub_signature(b"k", b"body", Some(&upper)));
    }

    #[test]
    fn hub_verify_rejects_bad_headers() {
        let sig = hub_signature(b"k", b"body");
        let hex_part = &sig[HUB_PREFIX.len()..];
        let cases = [
            None,
            Some(String::new()),
            Some(hex_part.to_owned()),
            Some(format!("sha1={hex_part}")),
            Some(format!("SHA256={hex_part}")),
            Some(format!("sha256={}", &hex_part[..62])),
            Some(format!("{sig}00")),
            Some(format!("sha256={}zz", &hex_part[..62])),
            Some(format!(" {sig}")),
        ];
        for case in cases {
            assert!(
                !verify_hub_signature(b"k", b"body", case.as_deref()),
                "{case:?}"
            );
        }
        assert!(!verify_hub_signature(b"k", b"bodY", Some(&sig)));
        assert!(!verify_hub_signature(b"K", b"body", Some(&sig)));
    }

    #[test]
    fn standard_webhooks_vector() {
        let s = signer(vec![SecretInput::Text(SW_SECRET)]);
        assert_eq!(s.sign(SW_ID, SW_TS, SW_BODY), SW_SIG);
        assert!(s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, SW_TS + 10, 300));
    }

    #[test]
    fn secret_prefix_and_padding_are_optional() {
        for text in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==",
        ] {
            assert_eq!(
                signer(vec![SecretInput::Text(text)]).sign(SW_ID, SW_TS, SW_BODY),
                SW_SIG
            );
        }
    }

    #[test]
    fn rotation_signs_with_all_and_verifies_with_any() {
        let both = signer(vec![
            SecretInput::Text(SW_SECRET),
            SecretInput::Raw(b"second-secret-raw-bytes"),
        ]);
        let header = both.sign(SW_ID, SW_TS, SW_BODY);
        assert_eq!(header, format!("{SW_SIG} {SW_SIG_RAW2}"));
        let only_new = signer(vec![SecretInput::Raw(b"second-secret-raw-bytes")]);
        assert!(only_new.verify(SW_ID, SW_TS, SW_BODY, &header, SW_TS, 0));
        assert!(both.verify(SW_ID, SW_TS, SW_BODY, SW_SIG_RAW2, SW_TS, 0));
    }

    #[test]
    fn verify_rejects_tampering_and_stale_timestamps() {
        let s = signer(vec![SecretInput::Text(SW_SECRET)]);
        assert!(!s.verify(SW_ID, SW_TS, b"{}", SW_SIG, SW_TS, 300));
        assert!(!s.verify("msg_other", SW_TS, SW_BODY, SW_SIG, SW_TS, 300));
        assert!(!s.verify(SW_ID, SW_TS + 1, SW_BODY, SW_SIG, SW_TS, 300));
        assert!(s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, SW_TS + 300, 300));
        assert!(s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, SW_TS - 300, 300));
        assert!(!s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, SW_TS + 301, 300));
        assert!(!s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, SW_TS - 301, 300));
        assert!(!s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, i64::MAX, 300));
        assert!(s.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, i64::MIN, u64::MAX));
    }

    #[test]
    fn verify_header_parsing() {
        let s = signer(vec![SecretInput::Text(SW_SECRET)]);
        let b64 = &SW_SIG[3..];
        let ok = |h: &str| s.verify(SW_ID, SW_TS, SW_BODY, h, SW_TS, 5);
        assert!(ok(&format!("v1,AAAA v1a,xyz  {SW_SIG}")));
        assert!(ok(&format!("v1,{}", b64.trim_end_matches('='))));
        assert!(!ok(&format!("v2,{b64}")));
        assert!(!ok(b64));
        assert!(!ok(&format!("v1 {b64}")));
        assert!(!ok(&format!("v1,{b64},")));
        assert!(!ok(""));
        assert!(!ok(&format!("v1,{}", &b64[..40])));
    }

    #[test]
    fn bad_secrets_are_refused() {
        let err = |v: Vec<SecretInput<'_>>| StandardSigner::new(v).err();
        assert_eq!(err(vec![]), Some(SecretError::NoSecrets));
        assert_eq!(
            err(vec![SecretInput::Raw(b"")]),
            Some(SecretError::Empty(0))
        );
        assert_eq!(
            err(vec![SecretInput::Raw(b"x"), SecretInput::Text("whsec_")]),
            Some(SecretError::Empty(1))
        );
        assert!(matches!(
            err(vec![SecretInput::Text("whsec_not base64!")]),
            Some(SecretError::BadBase64(0, _))
        ));
    }
}
