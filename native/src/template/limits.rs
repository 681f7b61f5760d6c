//! Every limit the template module enforces, in one place.
//!
//! Sources: /work/shared/reference/meta-cloud-api.md (cited as "ref §x"). Limits marked
//! UNCONFIRMED are our conservative choice where the reference has no Meta source.

/// Header text parameter: at most 60 characters (Unicode code points). Meta's header text limit.
pub const HEADER_PARAM_MAX: usize = 60;

/// Body text after substitution: at most 1024 code points; beyond it Meta answers 132005
/// "Template Hydrated Text Too Long" (ref §3).
pub const BODY_RENDERED_MAX: usize = 1024;

/// URL button suffix: at most 2000 code points. Our conservative choice (Meta caps a button URL
/// at 2000 characters in template management; the suffix alone can be no longer).
pub const URL_SUFFIX_MAX: usize = 2000;

/// Quick-reply payload: at most 128 code points. UNCONFIRMED: not in the reference.
pub const QUICK_REPLY_PAYLOAD_MAX: usize = 128;

/// COPY_CODE coupon code: at most 15 code points. UNCONFIRMED: Meta's template-creation
/// example limit, not in the reference.
pub const COUPON_CODE_MAX: usize = 15;

/// OTP code of an authentication template button: at most 15 code points. UNCONFIRMED.
pub const OTP_CODE_MAX: usize = 15;

/// Named placeholders: `[a-z][a-z0-9_]*`, at most 20 characters (ref §1.3, L2).
pub const PARAM_NAME_MAX: usize = 20;

/// At most 10 buttons; `index` is a single digit "0".."9" (ref §1.3).
pub const BUTTONS_MAX: usize = 10;

/// Meta's text-parameter rule (132012 "Parameter format mismatch" in practice): no newline or
/// tab characters and no more than 4 consecutive spaces. Applies to header and body values.
pub const MAX_CONSECUTIVE_SPACES: usize = 4;
