"""Ad responses for a break, every Wrapper followed to its InLine ads (VAST 4.3 "VAST Wrappers").

Pure: the only I/O is the injected `await fetch(url) -> bytes`, which raises when the URL cannot be fetched (and may
apply the channel's XSLT before returning). The rules, each failure a `Skip` carrying its VAST code and every Error
URI to notify (the Wrappers' of the chain, outermost first, then the failing document's or ad's own):

- depth: at most `max_depth` Wrappers in a chain (5, §2.3.5.1); the Wrapper past it is not fetched → 302.
- loop: a VASTAdTagURI (resolved against the URL of its document) already requested on this chain → 302.
- only http(s) targets are fetched; another scheme, or `fetch` raising → 301. Not XML → 100, not VAST → 101,
  VAST 1.0 → 102. A target with no <Ad> at all → 303, its root <Error> URIs notified too.
- allowMultipleAds (default false, VAST 3.0+ targets): the target contributes one ad, its first stand-alone ad, or
  its first pod ad when it has only a pod (the spec allows only the stand-alone one; we are lenient).
- followAdditionalWrappers=false (VMAP followRedirects=false): Wrappers in the target are not followed → 300.
- a pod entry that yields no ad is replaced by the next unused stand-alone ad of the same document ("Ad Pods and
  Stand-Alone Ads"), unless it is a Wrapper with fallbackOnNoAd="false".
- merge (§2.3.5.2): the Wrappers' Impression/Error/Tracking/ClickTracking URIs come first (outermost first), then
  the InLine's; the InLine's ClickThrough wins over the closest Wrapper's; a Wrapper's sequence is the pod position.
- the first document: fetch and parse failures raise (the caller's ADS_TIMEOUT / ADS_ERROR); a no-ad response is
  a Skip 303 to its root <Error> URIs. No supported MediaFile (403) is decided later, by the caller
  (`unsupported_media`).

Any configured response type accepts a VAST, a VMAP (Google ad rules) or a SmartXML answer: the root element says
which it is (`_parse`). A VMAP / Google ad rules / SmartXML response plays every AdBreak `proxy.ads.vmap.live_break`
matches to the break's position, in document order, their ads one pod; an AdBreak's AdTagURI is fetched like a
first document, its Wrappers under the same limits as any (fetch failure → VMAP 1008, unusable → 1006), and the
AdBreak's `error` tracking URIs are notified of every failure in it (VMAP 1.0.1 §2.5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urljoin, urlsplit

from proxy.ads.errors import AdParseError, ErrorCode
from proxy.ads.models import (
    Ad,
    AdBreak,
    AdResponse,
    AdSchedule,
    BreakPosition,
    MediaFile,
    ResolvedResponse,
    Skip,
    VastDocument,
    Wrapper,
)
from proxy.ads.smartxml import parse_smartxml
from proxy.ads.vast import parse_document, play_order, response_of
from proxy.ads.vmap import live_break, parse_vmap
from proxy.ads.xmlsafe import local_name, parse_xml
from proxy.errors import ConfigError

Fetch = Callable[[str], Awaitable[bytes]]
ResponseFormat = Literal["vast", "vmap", "dfp_ad_rules", "smartxml", "auto"]
MAX_DEPTH = 5
FIRST_BREAK = BreakPosition()  # a session's first break, not at its start: a position when none is known
WRAPPER = "INVALID_VAST_WRAPPER_AD"
_ROOTS: dict[str, ResponseFormat] = {
    "VAST": "vast",
    "VideoAdServingTemplate": "vast",  # VAST 1.0: parse_document reports it (102)
    "VMAP": "vmap",
    "adResponse": "smartxml",
}
_CONFIG_NAMES: dict[str, ResponseFormat] = {  # Brightcove Live API and Video Cloud SSAI API spellings
    "vast": "vast",
    "vast_3_0": "vast",
    "dfp": "dfp_ad_rules",
    "dfp_ad_rules": "dfp_ad_rules",
    "dfp_vmap": "vmap",
    "vmap": "vmap",
    "smartxml": "smartxml",
    "smart_xml": "smartxml",
    "auto": "auto",
}


def response_format(name: str) -> ResponseFormat:
    """A channel's `expected response type` (`Dfp`, `Vast`, `SmartXML`, `dfp_ad_rules`, `vast_3_0`, …)."""
    found = _CONFIG_NAMES.get(name.strip().lower())
    if found is None:
        raise ConfigError(f"expected ad response type {name!r}: expected one of {', '.join(sorted(_CONFIG_NAMES))}")
    return found


def _parse(body: bytes, expected: ResponseFormat) -> VastDocument | AdSchedule:
    """The root element decides, whatever the configured type: <VAST>, <VMAP> and <adResponse> cannot be mistaken
    for one another, and ad servers answer what they have (Google Ad Manager a VAST, a pod or an empty VAST to an
    ad rules request that has no rule for it; FreeWheel VAST for `resp=vast4`). `expected` names the configured
    type in the error for any other root."""
    root = parse_xml(body, lenient_namespaces=True)
    name = local_name(root)
    found = _ROOTS.get(name)
    if found is None:
        wanted = "" if expected == "auto" else f" (the ad server is configured as {expected})"
        raise AdParseError(
            ErrorCode.SCHEMA_VALIDATION, f"root element <{name}>: expected <VAST>, <VMAP> or <adResponse>{wanted}"
        )
    if found == "vmap":
        return parse_vmap(root)
    return parse_smartxml(root) if found == "smartxml" else parse_document(root)


def parse_response(body: bytes, expected: ResponseFormat = "auto") -> AdResponse | AdSchedule:
    """One response, nothing fetched: VAST → AdResponse (Wrappers listed, not followed); VMAP, Google ad rules
    (VMAP with one AdBreak per slot) and SmartXML → AdSchedule. Raises AdParseError (an AdResponseError)."""
    parsed = _parse(body, expected)
    return parsed if isinstance(parsed, AdSchedule) else response_of(parsed)


def unsupported_media(ad: Ad, usable: Callable[[MediaFile], bool] = lambda m: not m.is_interactive) -> Skip | None:
    """The 403 Skip ("No MediaFile supported") for an ad none of whose MediaFiles is `usable`, else None."""
    if any(usable(media) for media in ad.media_files):
        return None
    types = sorted({media.mime_type for media in ad.media_files})
    detail = f"MediaFile types {types}: expected one the stitcher can use"
    return Skip(ad.ad_id, "NO_VARIANT_MATCH", detail, ErrorCode.NO_SUPPORTED_MEDIA, ad.errors)


@dataclass(frozen=True, slots=True)
class _Chain:
    """The path to a document: the URLs requested on it, the Wrappers followed (outermost first)."""

    urls: tuple[str, ...]
    wrappers: tuple[Wrapper, ...] = ()
    targets: tuple[str, ...] = ()  # absolute VASTAdTagURIs of `wrappers`
    base_errors: tuple[str, ...] = ()  # the VMAP AdBreak's `error` tracking URIs

    @property
    def errors(self) -> tuple[str, ...]:
        return self.base_errors + tuple(url for wrapper in self.wrappers for url in wrapper.errors)

    def follow(self, wrapper: Wrapper, url: str) -> _Chain:
        return replace(self, urls=(*self.urls, url), wrappers=(*self.wrappers, wrapper), targets=(*self.targets, url))


@dataclass
class _Run:
    fetch: Fetch
    max_depth: int
    skipped: list[Skip] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def fail(self, chain: _Chain, skip: Skip) -> list[Ad]:
        self.skipped.append(replace(skip, error_urls=chain.errors + skip.error_urls))
        return []

    async def load(
        self, chain: _Chain, ad_id: str, url: str, codes: tuple[int, int] | None = None
    ) -> VastDocument | None:
        """Fetch and parse a VAST document; None (a Skip recorded) when it cannot be used. `codes` replace
        (301, the parse error's code) for a VMAP AdTagURI."""
        fetch_code = codes[0] if codes else ErrorCode.WRAPPER_TIMEOUT
        if urlsplit(url).scheme not in ("http", "https"):
            self.fail(chain, Skip(ad_id, WRAPPER, f"VAST URI {url!r}: expected an http(s) URL", fetch_code))
            return None
        self.fetched.append(url)
        try:
            body = await self.fetch(url)
        except Exception as error:  # whatever `fetch` raises (timeout, HTTP status, refused address) is a 301
            detail = f"fetching {url!r} failed: {str(error) or type(error).__name__}"[:300]
            self.fail(chain, Skip(ad_id, WRAPPER, detail, fetch_code))
            return None
        try:
            return parse_document(body)
        except AdParseError as error:
            self.fail(
                chain, Skip(ad_id, error.skip_reason, f"{url!r}: {error.detail}", codes[1] if codes else error.code)
            )
            return None


def _merge(ad: Ad, chain: _Chain) -> Ad:
    wrappers = chain.wrappers
    if not wrappers and not chain.base_errors:
        return ad
    sequence = next((w.sequence for w in wrappers if w.sequence is not None), ad.sequence)
    closest_click = next((w.click_through for w in reversed(wrappers) if w.click_through), ())
    return replace(
        ad,
        sequence=sequence,
        impressions=tuple(url for w in wrappers for url in w.impressions) + ad.impressions,
        errors=chain.errors + ad.errors,
        tracking=tuple(event for w in wrappers for event in w.tracking) + ad.tracking,
        click_tracking=tuple(url for w in wrappers for url in w.click_tracking) + ad.click_tracking,
        click_through=ad.click_through or closest_click,
        wrapper_chain=chain.targets,
    )


def _version(document: VastDocument) -> float:
    try:
        return float(document.version.split(".")[0]) if document.version else 3.0
    except ValueError:
        return 3.0


def _restrict(run: _Run, document: VastDocument, chain: _Chain, *, multiple: bool, follow: bool) -> VastDocument:
    """What a Wrapper (or a VMAP AdSource) allows of its target: allowMultipleAds, followAdditionalWrappers."""
    entries = list(document.entries)
    if not follow:
        for wrapper in (entry for entry in entries if isinstance(entry, Wrapper)):
            detail = f"Wrapper to {wrapper.ad_tag_uri!r} not followed: followAdditionalWrappers is false"
            run.fail(chain, Skip(wrapper.ad_id, WRAPPER, detail, ErrorCode.WRAPPER, wrapper.errors))
        entries = [entry for entry in entries if isinstance(entry, Ad)]
    if not multiple and _version(document) >= 3 and len(entries) > 1:
        alone = [entry for entry in entries if entry.sequence is None]
        entries = alone[:1] or play_order(entries)[0][:1]
    return replace(document, entries=tuple(entries))


async def _follow(run: _Run, wrapper: Wrapper, base: str, chain: _Chain) -> list[Ad]:
    url = urljoin(base, wrapper.ad_tag_uri)
    inner = chain.follow(wrapper, url)
    if len(inner.wrappers) > run.max_depth:
        detail = f"Wrapper limit reached: {url!r} would follow Wrapper {len(inner.wrappers)}, at most {run.max_depth}"
        return run.fail(inner, Skip(wrapper.ad_id, WRAPPER, detail, ErrorCode.WRAPPER_LIMIT))
    if url in chain.urls:
        detail = f"Wrapper loop: {url!r} was already requested in this chain"
        return run.fail(inner, Skip(wrapper.ad_id, WRAPPER, detail, ErrorCode.WRAPPER_LIMIT))
    document = await run.load(inner, wrapper.ad_id, url)
    if document is None:
        return []
    if not document.entries and not document.skipped:
        detail = f"no ad in the VAST response of {url!r} after {len(inner.wrappers)} Wrapper(s)"
        skip = Skip(wrapper.ad_id, "EMPTY_VAST_RESPONSE", detail, ErrorCode.NO_ADS_AFTER_WRAPPER, document.errors)
        return run.fail(inner, skip)
    allowed = _restrict(
        run, document, inner, multiple=wrapper.allow_multiple_ads, follow=wrapper.follow_additional_wrappers
    )
    ads, _ = await _document(run, allowed, url, inner)
    return ads


async def _entry(run: _Run, entry: Ad | Wrapper, base: str, chain: _Chain) -> list[Ad]:
    return [_merge(entry, chain)] if isinstance(entry, Ad) else await _follow(run, entry, base, chain)


async def _document(run: _Run, document: VastDocument, base: str, chain: _Chain) -> tuple[list[Ad], list[Ad]]:
    """(the ads it plays, its unused stand-alone InLine ads), Wrappers followed depth-first in play order."""
    for skip in document.skipped:
        run.fail(chain, skip)
    play, spare = play_order(document.entries)
    ads: list[Ad] = []
    for entry in play:
        found = await _entry(run, entry, base, chain)
        while not found and spare and not (isinstance(entry, Wrapper) and entry.fallback_on_no_ad is False):
            found = await _entry(run, spare.pop(0), base, chain)
        ads += found
    return ads, [_merge(entry, chain) for entry in spare if isinstance(entry, Ad)]


async def _first(run: _Run, document: VastDocument, url: str, chain: _Chain) -> tuple[list[Ad], list[Ad]]:
    if not document.entries and not document.skipped:  # a no-ad response: 303 to its root <Error> (Error Reporting)
        detail = f"no ad in the VAST response of {url!r}"
        skip = Skip("", "EMPTY_VAST_RESPONSE", detail, ErrorCode.NO_ADS_AFTER_WRAPPER, document.errors)
        run.fail(chain, skip)
        return [], []
    return await _document(run, document, url, chain)


async def _ad_break(run: _Run, brk: AdBreak, url: str) -> tuple[list[Ad], list[Ad]]:
    chain = _Chain((url,), base_errors=tuple(target for event, target in brk.tracking if event == "error"))
    if brk.skip is not None:
        run.fail(chain, replace(brk.skip, error_urls=()))
        return [], []
    document, base = brk.vast, url
    if document is None and brk.ad_tag_uri:
        base = urljoin(url, brk.ad_tag_uri)
        chain = replace(chain, urls=(url, base))
        codes = (ErrorCode.VMAP_AD_RESPONSE_RETRIEVAL, ErrorCode.VMAP_AD_RESPONSE_PARSING)
        document = await run.load(chain, brk.source_id, base, codes)
    if document is None:
        return [], []
    document = _restrict(run, document, chain, multiple=brk.allow_multiple_ads, follow=brk.follow_redirects)
    return await _first(run, document, base, chain)


async def resolve_body(
    body: bytes,
    url: str,
    fetch: Fetch,
    *,
    max_depth: int = MAX_DEPTH,
    expected: ResponseFormat = "auto",
    position: BreakPosition = FIRST_BREAK,
) -> ResolvedResponse:
    """`resolve` for a first response already fetched from `url` (raises AdParseError when it is unusable)."""
    run = _Run(fetch, max_depth, fetched=[url])
    parsed = _parse(body, expected)
    if isinstance(parsed, VastDocument):
        played, spare = await _first(run, parsed, url, _Chain((url,)))
        return ResolvedResponse(tuple(played), tuple(run.skipped), tuple(spare), (), tuple(run.fetched))
    ads: list[Ad] = []
    buffet: list[Ad] = []
    tracking: list[tuple[str, str]] = []
    run.skipped += parsed.skipped  # AdBreaks left out of the schedule (VMAP 1.0.1 §2.5: a 1000 to their error URIs)
    for brk in live_break(parsed, position):
        found, spare = await _ad_break(run, brk, url)
        ads += found
        buffet += spare
        tracking += brk.tracking
    return ResolvedResponse(tuple(ads), tuple(run.skipped), tuple(buffet), tuple(tracking), tuple(run.fetched))


async def resolve(
    first_url: str,
    fetch: Fetch,
    *,
    max_depth: int = MAX_DEPTH,
    expected: ResponseFormat = "auto",
    position: BreakPosition = FIRST_BREAK,
) -> ResolvedResponse:
    """The ads to play for the live break at `position` from the ad tag `first_url`, every Wrapper and AdTagURI
    followed (rules: module docstring).

    The first fetch's exception and the first response's AdParseError propagate; everything after is a Skip."""
    body = await fetch(first_url)
    return await resolve_body(body, first_url, fetch, max_depth=max_depth, expected=expected, position=position)
