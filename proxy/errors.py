"""The proxy's one error tree; every error knows the HTTP status it maps to.

ProxyError                      500
├── ConfigError                 500  bad settings or channel file (raised at start-up)
├── BadRequest                  400  a viewer's or operator's input, naming the field and the value
│   ├── RequestTooLarge         413  a request body over the limit of its kind
│   └── TransformRefused        400  a stylesheet or XPath the static check refuses (`detail`: why)
├── Unauthorized                401  missing or wrong API key, OAuth client or bearer token
├── Forbidden                   403  a read-only token asked to change something
├── NotFound                    404
│   ├── ChannelNotFound
│   └── SessionNotFound
├── OriginError                 502  the origin answered badly or not at all
│   ├── OriginTimeout           504
│   ├── PlaylistParseError      502  the origin's playlist is not HLS
│   ├── BodyTooLarge            502  a body over the size cap
│   ├── BodyTruncated           502  a body that ended before its announced length
│   └── FetchRefused            502  a URL (or a redirect's target) the egress policy refuses
└── AdError                     (never reaches a viewer: the break gets slate or content)
    ├── AdResponseError              a VAST that cannot be used
    │   └── TransformError           an ad_configuration_transforms stylesheet failed (TRANSFORM_FAILED)
    │       └── TransformTimeout     … by running over its time limit
    └── AdMediaError                 a creative whose renditions cannot be stitched
"""

from __future__ import annotations

TRANSFORM_FAILED = "TRANSFORM_FAILED"  # the skip reason of every transform failure


class ProxyError(Exception):
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ProxyError):
    pass


class BadRequest(ProxyError):
    status_code = 400


class RequestTooLarge(BadRequest):
    """A request body over the limit of its kind (RFC 9110 §15.5.14: 413 Content Too Large)."""

    status_code = 413

    def __init__(self, size: int, limit: int, *, complete: bool = True) -> None:
        size_text = f"{size} bytes" if complete else f"at least {size} bytes (the rest was not read)"
        super().__init__(f"body is {size_text}: expected at most {limit} bytes")
        self.size, self.limit = size, limit


class TransformRefused(BadRequest):
    """A stylesheet or XPath selector refused before anything runs; `detail` says why without the prefix."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"transform refused: {detail}")
        self.detail = detail


class Unauthorized(ProxyError):
    status_code = 401


class Forbidden(ProxyError):
    status_code = 403


class NotFound(ProxyError):
    status_code = 404


class Conflict(ProxyError):
    """The request is valid but the stored state refuses it (a name taken, a configuration in use)."""

    status_code = 409


class ChannelNotFound(NotFound):
    def __init__(self, channel: str) -> None:
        super().__init__(f"channel {channel!r} is not configured")


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} does not exist or has expired")


class OriginError(ProxyError):
    """A failed fetch. Its message never quotes what the upstream sent: it reaches players and API clients."""

    status_code = 502
    retryable = True  # a network failure: worth another try for a beacon (HttpStatusError says per status)
    kind = "network"  # what /metrics counts it as (`origin_errors`)


class HttpStatusError(OriginError):
    """An answer with an unexpected HTTP status; only a 5xx is worth trying again."""

    kind = "status"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = status >= 500


class OriginTimeout(OriginError):
    status_code = 504
    kind = "timeout"


class BodyTooLarge(OriginError):
    retryable = False
    kind = "oversized"


class BodyTruncated(OriginError):
    kind = "truncated"


class FetchRefused(OriginError):
    """The egress policy refused the URL or the address it resolved to: final, never tried again."""

    retryable = False
    kind = "refused"


class PlaylistParseError(OriginError):
    """The offending line is kept in `excerpt` for the log, out of the message a player or API client sees."""

    kind = "unparsable"

    def __init__(self, url: str, lineno: int, line: str, expected: str) -> None:
        super().__init__(f"{url} line {lineno}: expected {expected}")
        self.excerpt = line[:80]


class AdError(ProxyError):
    """An ad response or creative that cannot be stitched; `reason` is a skip reason (MediaTailor's names)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class AdResponseError(AdError):
    pass


class AdMediaError(AdError):
    pass


class TransformError(AdResponseError):
    """An ad_configuration_transforms stylesheet that failed on a response: refused, erroneous, over a limit,
    or its worker gone. The break's skip reason is the transform's, whatever the failure."""

    def __init__(self, message: str) -> None:
        super().__init__(TRANSFORM_FAILED, message)


class TransformTimeout(TransformError):
    """The transform ran over its wall-clock limit (its worker was killed): the transform's failure, not the
    ad server's, so never counted as ADS_TIMEOUT."""
