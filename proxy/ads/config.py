"""A channel's ad configuration compiled once, so a bad template or stylesheet fails when the channel is saved or
started, naming the field, and never on a viewer's request.

Pure: it reads the channel through `ChannelAds`, the fields of its ad configuration, so both the control plane
(which validates a channel before storing it) and playback (which makes the decisions) compile it without one
depending on the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from proxy.ads.chain import ResponseFormat, response_format
from proxy.ads.context import ChannelInfo
from proxy.ads.macros import AdTagTemplate, HeaderTemplate, compile_ad_tag, compile_headers
from proxy.ads.template_vars import page_names
from proxy.ads.xslt import TransformSpec, compile_check
from proxy.errors import ConfigError, ProxyError


class AdTransform(Protocol):
    """One `ad_configuration_transforms` entry: an XSLT applied when the XPath matches the response."""

    @property
    def xpath(self) -> str: ...

    @property
    def xslt(self) -> str: ...


class ChannelAds(Protocol):
    """The fields of a channel that its ad configuration is compiled from (proxy.settings.ChannelConfig)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def ad_tag(self) -> str | None: ...

    @property
    def ad_headers(self) -> Mapping[str, str]: ...

    @property
    def ad_defaults(self) -> Mapping[str, str]: ...

    @property
    def ad_response(self) -> str: ...

    @property
    def ad_transforms(self) -> Sequence[AdTransform]: ...

    @property
    def beacon_templates(self) -> Sequence[tuple[str, str]]: ...

    @property
    def ad_description(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class AdConfig:
    """A channel's ad configuration compiled once: a bad template or stylesheet fails at start-up."""

    tag: AdTagTemplate | None
    headers: HeaderTemplate
    response: ResponseFormat
    transforms: tuple[TransformSpec, ...]
    beacons: tuple[tuple[str, AdTagTemplate], ...] = ()  # Video Cloud SSAI API beacon_templates: (type, URL template)
    # job.job_id, application_ad_configuration.description and metadata.* of the channel
    channel: ChannelInfo = field(default_factory=ChannelInfo)

    @property
    def personal(self) -> bool:
        return self.tag is not None and (self.tag.personal or self.headers.personal)

    @property
    def page_names(self) -> tuple[str, ...]:
        """Client-side macros (`{{ page.* }}`, Video Cloud SSAI API) of the ad tag, its headers and beacons."""
        templates = [t for t in (self.tag, *(b for _, b in self.beacons)) if t is not None]
        return page_names({name for t in templates for name in t.variables} | self.headers.variables)


def compile_ad_config(channel: ChannelAds) -> AdConfig:
    try:
        tag = compile_ad_tag(channel.ad_tag, defaults=channel.ad_defaults) if channel.ad_tag else None
        headers = compile_headers(channel.ad_headers, defaults=channel.ad_defaults)
        transforms = tuple(TransformSpec(xslt=t.xslt, xpath=t.xpath) for t in channel.ad_transforms)
        for spec in transforms:
            compile_check(spec.xslt)
        beacons = tuple(
            (kind, compile_ad_tag(template, defaults=channel.ad_defaults))
            for kind, template in channel.beacon_templates
        )
        info = ChannelInfo(channel.version or channel.name, channel.ad_description, channel.metadata)
        return AdConfig(tag, headers, response_format(channel.ad_response), transforms, beacons, info)
    except (ValueError, ProxyError) as error:
        raise ConfigError(f"channels.{channel.name}: {getattr(error, 'message', error)}") from None
