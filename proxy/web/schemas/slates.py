"""The Live SSAI API slates: `SlateBody` adds one ("Add slate asset"); `SlateUpdate` is this product's change of a slate
(the default, the description)."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from proxy.web.schemas.common import AccountId, Body, Text, WebUrl


class SlateBody(Body):
    """The Live SSAI API "Add slate asset": a video the media pipeline transcodes to each channel's ladder."""

    source_url: WebUrl = Field(description="the http(s) URL of the slate video")
    account_id: AccountId | None = None
    source_description: Text = ""


class SlateUpdate(Body):
    """A slate's change (the Live SSAI API only adds and deletes slates): `media_source_asset_default: true` makes it
    the account's default slate (`default` is accepted for it), and the description may change."""

    media_source_asset_default: bool | None = Field(default=None, description="true: the account's default")
    default: bool | None = Field(default=None, description="the same as media_source_asset_default")
    media_source_asset_description: Text | None = None

    @field_validator("default")
    @classmethod
    def _one_default(cls, default: bool | None, info: ValidationInfo) -> bool | None:
        given = info.data.get("media_source_asset_default")
        if default is not None and given is not None and default != given:
            raise ValueError(f"expected {given!r} as media_source_asset_default, or only one of the two")
        return default

    @property
    def wanted_default(self) -> bool | None:
        return self.media_source_asset_default if self.media_source_asset_default is not None else self.default
