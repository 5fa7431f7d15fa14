"""The proxy's one error tree: every error knows the HTTP status it maps to and, where a failed ad decision can
end in it, the skip reason that decision is counted under (MediaTailor's names). Callers tell errors apart by
their type, never by their message.

Each class with its status, its skip reason ("-": none; "given": named where it is raised) and, for one defined
elsewhere, its module (tests/test_errors.py checks this drawing against the classes):

ProxyError                          500  -                   the root: 500 unless a subclass says otherwise
├── ConfigError                     500  -                   bad settings or channel file (raised at start-up)
├── BadRequest                      400  -                   bad input from a viewer or an operator, naming the field
│   ├── RequestTooLarge             413  -                   a request body over the limit of its kind
│   └── TransformRefused            400  -                   a stylesheet or XPath the static check refuses
├── Unauthorized                    401  -                   missing or wrong API key, OAuth client or bearer token
├── Forbidden                       403  -                   a read-only token asked to change something
├── NotFound                        404  -
│   ├── ChannelNotFound             404  -
│   └── SessionNotFound             404  -
├── Conflict                        409  -                   a valid request the stored state refuses (a name taken)
├── StoreUnavailable                503  -                   the shared session store cannot be reached
├── EgressRefused                   403  -                   proxy.net.egress: an address the egress policy refuses
├── OriginError                     502  ADS_ERROR           a fetch answered badly or not at all
│   ├── HttpStatusError             502  ADS_ERROR           an unexpected HTTP status
│   ├── OriginTimeout               504  ADS_TIMEOUT
│   ├── BodyTooLarge                502  ADS_ERROR           a body over the size cap
│   ├── BodyTruncated               502  ADS_ERROR           a body that ended before its announced length
│   ├── FetchRefused                502  EGRESS_REFUSED      a URL or redirect target the egress policy refuses
│   └── PlaylistParseError          502  ADS_ERROR           the origin's playlist is not HLS
└── AdError                         500  given               never reaches a viewer: the break gets slate or content
    ├── AdResponseError             500  given               an ad response that cannot be used
    │   ├── AdParseError            500  VAST_PARSING_ERROR  proxy.ads.errors: with the VAST error code to report
    │   └── TransformError          500  TRANSFORM_FAILED    an ad_configuration_transforms stylesheet failed
    │       └── TransformTimeout    500  TRANSFORM_FAILED    … by running over its time limit
    └── AdMediaError                500  given               a creative whose renditions cannot be stitched
        └── CreativeMisfit          500  given               proxy.media.creatives: plays only once remade
"""

from __future__ import annotations

TRANSFORM_FAILED = "TRANSFORM_FAILED"  # the skip reason of every transform failure


class ProxyError(Exception):
    status_code = 500
    skip_reason: str | None = None  # what a failed ad decision ending in this error is counted under

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


class StoreUnavailable(ProxyError):
    """The shared session store (Redis) did not answer: a session cannot be made or found; those a process holds
    keep playing (RFC 9110 §15.6.4: 503, a temporary condition)."""

    status_code = 503


class OriginError(ProxyError):
    """A failed fetch. Its message never quotes what the upstream sent: it reaches players and API clients."""

    status_code = 502
    skip_reason = "ADS_ERROR"
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
    skip_reason = "ADS_TIMEOUT"
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
    skip_reason = "EGRESS_REFUSED"


class PlaylistParseError(OriginError):
    """The offending line is kept in `excerpt` for the log, out of the message a player or API client sees."""

    kind = "unparsable"

    def __init__(self, url: str, lineno: int, line: str, expected: str) -> None:
        super().__init__(f"{url} line {lineno}: expected {expected}")
        self.excerpt = line[:80]


class AdError(ProxyError):
    """An ad response or creative that cannot be stitched; its skip reason is named where it is raised."""

    skip_reason: str

    def __init__(self, skip_reason: str, message: str) -> None:
        super().__init__(f"{skip_reason}: {message}")
        self.skip_reason = skip_reason


class AdResponseError(AdError):
    pass


class AdMediaError(AdError):
    pass


class TransformError(AdResponseError):
    """An ad_configuration_transforms stylesheet that failed on a response: refused, erroneous, over a limit,
    or its worker gone. The break's skip reason is the transform's, whatever the failure."""

    skip_reason = TRANSFORM_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(TRANSFORM_FAILED, message)


class TransformTimeout(TransformError):
    """The transform ran over its wall-clock limit (its worker was killed): the transform's failure, not the
    ad server's, so never counted as ADS_TIMEOUT."""
