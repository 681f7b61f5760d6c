"""Meta error codes the sandbox can answer with: title, HTTP status, bodies (sync and webhook)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """One row of Meta's error table (reference §2.3 and §3)."""

    code: int
    title: str
    http_status: int
    details: str
    #: Graph-layer errors (auth, permissions, bad ids) carry no `error_data` in their body.
    graph_layer: bool = False
    type: str = "OAuthException"


def _row(code: int, title: str, status: int, details: str, graph: bool = False) -> ErrorInfo:
    return ErrorInfo(code, title, status, details, graph)


CATALOG: dict[int, ErrorInfo] = {
    e.code: e
    for e in (
        _row(0, "AuthException", 401, "Could not authenticate the app user.", True),
        _row(1, "API Unknown", 400, "Invalid request or possible server error.", True),
        _row(2, "API Service", 503, "Temporary downtime or overload.", True),
        _row(3, "API Method", 500, "Capability or permissions issue.", True),
        _row(4, "API Too Many Calls", 400, "The app reached its API call rate limit.", True),
        _row(10, "Permission Denied", 403, "Permission is not granted or was removed.", True),
        _row(
            33, "Parameter value is not valid", 400, "The business phone number is deleted.", True
        ),
        _row(100, "Invalid parameter", 400, "Invalid parameter.", True),
        _row(190, "Access token has expired", 401, "Invalid OAuth access token.", True),
        _row(200, "API Permission", 403, "Permission is not granted or was removed.", True),
        _row(368, "Temporarily blocked for policies violations", 403, "Account restricted.", True),
        _row(
            80007, "Rate limit issues", 400, "The WhatsApp Business Account reached its rate limit."
        ),
        _row(
            130429,
            "Rate limit hit",
            400,
            "Message failed to send because there were too many messages sent from this "
            "phone number in a short period of time.",
        ),
        _row(130472, "User's number is part of an experiment", 400, "Part of an experiment."),
        _row(
            130497, "Business account is restricted from messaging users in this country", 403, ""
        ),
        _row(
            131000, "Something went wrong", 500, "Message failed to send due to an unknown error."
        ),
        _row(131005, "Access denied", 403, "Permission is not granted or was removed."),
        _row(131008, "Required parameter is missing", 400, "A required parameter is missing."),
        _row(131009, "Parameter value is not valid", 400, "A parameter value is not valid."),
        _row(131016, "Service unavailable", 500, "A service is temporarily unavailable."),
        _row(
            131021, "Recipient cannot be sender", 400, "Sender and recipient are the same number."
        ),
        _row(
            131026,
            "Message Undeliverable",
            400,
            "Message failed to send because the recipient is not reachable on WhatsApp.",
        ),
        _row(131031, "Account has been locked", 403, "The business account is restricted."),
        _row(131042, "Business eligibility payment issue", 400, "Payment method problem."),
        _row(131045, "Incorrect certificate", 500, "Phone number registration error."),
        _row(
            131047,
            "Re-engagement message",
            400,
            "Message failed to send because more than 24 hours have passed since the "
            "customer last replied to this number.",
        ),
        _row(
            131048,
            "Spam rate limit hit",
            400,
            "Too many previous messages were blocked or flagged.",
        ),
        _row(
            131049,
            "Meta chose not to deliver",
            400,
            "This message was not delivered to maintain healthy ecosystem engagement.",
        ),
        _row(131050, "User stopped marketing messages", 400, "The user opted out of marketing."),
        _row(131051, "Unsupported message type", 400, "The message type is not supported."),
        _row(131052, "Media download error", 400, "Unable to download the media sent by the user."),
        _row(131053, "Media upload error", 400, "Unable to upload the media used in the message."),
        _row(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            400,
            "Message failed to send because there were too many messages sent from this "
            "phone number to the same phone number in a short period of time.",
        ),
        _row(131057, "Account in maintenance mode", 500, "The business account is in maintenance."),
        _row(132000, "Number of parameters does not match the expected number of params", 400, ""),
        _row(132001, "Template name does not exist in the translation", 404, ""),
        _row(132005, "Translated text too long", 400, "The hydrated template text is too long."),
        _row(132007, "Template Format Character Policy Violated", 400, "Content policy violation."),
        _row(132012, "Parameter format does not match format in the created template", 400, ""),
        _row(132015, "Template is Paused", 400, "The template is paused because of low quality."),
        _row(132016, "Template is Disabled", 400, "The template was paused too many times."),
        _row(132068, "Flow is in blocked state", 400, "The flow is blocked."),
        _row(132069, "Flow is in throttled state", 400, "Ten messages with this flow were sent."),
        _row(133000, "Incomplete Deregistration", 500, "A previous deregistration failed."),
        _row(
            133004, "Server Temporarily Unavailable", 503, "The server is temporarily unavailable."
        ),
        _row(133010, "Phone number Not Registered", 400, "The phone number is not registered."),
        _row(135000, "Generic user error", 400, "Unknown error with the request parameters."),
    )
}

#: Codes that may be injected as asynchronous `failed` statuses.
ASYNC_FAILURE_CODES = frozenset({130472, 131000, 131026, 131047, 131048, 131049, 131050, 131053})


def info(code: int) -> ErrorInfo:
    """The catalog row of `code`; KeyError for a code the sandbox does not know."""
    return CATALOG[code]


class MetaError(Exception):
    """A request the sandbox rejects the way the Cloud API would."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        error_type: str | None = None,
        subcode: int | None = None,
    ) -> None:
        row = CATALOG[code]
        self.code = code
        self.http_status = row.http_status
        self.details = row.details if details is None else details
        self.message = message if message is not None else f"(#{code}) {row.title}"
        self.error_type = error_type or row.type
        self.graph_layer = row.graph_layer
        self.subcode = subcode
        super().__init__(self.message)

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        """The synchronous error body (reference §2.1)."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if not self.graph_layer:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def async_error(code: int, details: str | None = None) -> dict[str, Any]:
    """The error object of a `failed` status webhook (reference §2.2)."""
    row = CATALOG[code]
    return {
        "code": code,
        "title": row.title,
        "message": row.title,
        "error_data": {"details": row.details if details is None else details},
        "href": ERROR_HREF,
    }
