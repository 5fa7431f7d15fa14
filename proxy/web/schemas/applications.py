"""The Live SSAI API applications (ad configurations): `ApplicationBody` for `POST /applications` and
`PUT …/application/ID` alike (its documentation's update sends the whole body). Its XSLT transforms are compiled here
with the code the proxy runs them with, so a stored configuration always compiles later."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from proxy.ads import xslt
from proxy.errors import TransformRefused
from proxy.web.schemas.common import MAX_URL, SHOWN_CHARS, AccountId, Body, Headers, Text, UrlTemplate

MAX_XSLT = 64 * 1024
MAX_TRANSFORMS = 20  # with MAX_XSLT, what makes an ad configuration the largest body (proxy/web/limits.py)
RESPONSE_TYPES = ("Dfp", "Vast", "SmartXML")  # the Live SSAI API's spelling


def _refusal(error: TransformRefused) -> ValueError:
    """proxy.ads.xslt's reason, cut: it may quote an expression of the stylesheet at length."""
    reason = error.detail
    if len(reason) > SHOWN_CHARS:
        reason = reason[:SHOWN_CHARS] + "…"
    return ValueError(f"expected a transform the proxy accepts: {reason}")


def _stylesheet(value: str) -> str:
    try:
        xslt.compile_check(value)
    except TransformRefused as error:
        raise _refusal(error) from None
    except ValueError:  # a lone surrogate cannot be encoded as UTF-8 (only from Python callers: JSON refuses it)
        raise ValueError("expected an XSLT 1.0 stylesheet in valid UTF-8") from None
    return value


def _xpath(value: str) -> str:
    try:
        xslt.check_xpath(value)
    except TransformRefused as error:
        raise _refusal(error) from None
    return value


def _response_type(value: str) -> str:
    """The Live SSAI API's response type in any case, stored in its documentation's spelling."""
    for name in RESPONSE_TYPES:
        if value.lower() == name.lower():
            return name
    raise ValueError(f"expected one of {', '.join(map(repr, RESPONSE_TYPES))}")


class AdTransform(Body):
    """One of `ad_configuration_transforms`: `xslt` applied to an ad response when `xpath` matches it."""

    xpath: Annotated[str, Field(max_length=MAX_URL, description="an XPath 1.0 selector"), AfterValidator(_xpath)]
    xslt: Annotated[str, Field(max_length=MAX_XSLT, description="an XSLT 1.0 stylesheet"), AfterValidator(_stylesheet)]


class AdConfiguration(Body):
    """The Live SSAI API `application_ad_configuration`."""

    ad_configuration_description: Text = ""
    ad_configuration_expected_response_type: Annotated[
        str,
        Field(description="one of 'Dfp', 'Vast', 'SmartXML' (any case)", json_schema_extra={"enum": RESPONSE_TYPES}),
        AfterValidator(_response_type),
    ]
    ad_configuration_headers: Headers = Field(default_factory=dict, description="header name → value template")
    ad_configuration_headers_for_impressions: bool = False
    ad_configuration_strategy: Literal["SingleAdResponse", "MultipleAdResponse"] = "MultipleAdResponse"
    ad_configuration_transforms: list[AdTransform] = Field(default_factory=list, max_length=MAX_TRANSFORMS)
    ad_configuration_url_format: UrlTemplate = Field(description="the ad tag: an http(s) URL template")


class ApplicationBody(Body):
    """The Live SSAI API application, for create and update alike (its documentation's update sends the whole body)."""

    application_ad_configuration: AdConfiguration = Field(description="the ad configuration object")
    application_description: Text = ""
    account_id: AccountId | None = None
