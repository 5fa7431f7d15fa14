"""The largest request body of each kind, in one place: the handlers read a body against its kind's limit
(proxy/web/responses.py `read_body`), the OpenAPI document states it, and the request models
(proxy/web/schemas/) are sized so that every body they accept fits. A body over its limit is a
413 Content Too Large (RFC 9110 §15.5.14) quoting its size and the limit."""

from __future__ import annotations

from enum import IntEnum

KiB = 1024


class BodyLimit(IntEnum):
    # A control-plane JSON body (live API, Video Cloud API, channels API). The largest valid one is an ad
    # configuration with 20 XSLT transforms of 64 KiB (1.25 MiB), JSON escaping of the stylesheets' quotes and
    # line breaks, and its headers and templates: 2 MiB holds it.
    CONTROL = 2048 * KiB
    SESSION = 16 * KiB  # a session POST's ad parameters and reporting mode
    TOKEN_FORM = 4 * KiB  # an OAuth 2.0 client-credentials form (RFC 6749 §4.4.2)
