"""VMAP / Google ad rules / SmartXML for a live break (proxy.ads.vmap's rules): which AdBreaks match a break's
position (every kind of timeOffset, breakId, repeatAfter), the pod they aggregate to (inline VAST and AdTagURIs
followed under the Wrapper limits, empty answers reported), and any response shape under a Dfp configuration
(the positions the proxy computes for a session: tests/playback/test_positions.py). Own fixtures (tests/data/vast)
only."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.ads.chain import resolve
from proxy.ads.fit import fit
from proxy.ads.models import AdBreak, BreakPosition
from proxy.ads.vmap import live_break, matches, parse_time_offset, parse_vmap
from tests.ads.test_chain import OWN, Fetcher, own

DATA = Path(__file__).parents[1] / "data" / "vast"
VMAP = (DATA / "vmap_live.xml").read_bytes()


def ad_break(offset: str, repeat: float | None = None, break_id: str = "") -> AdBreak:
    return AdBreak(break_id=break_id, offset=parse_time_offset(offset), repeat_after=repeat)


def at(
    start: float, previous: float | None = None, index: int = 1, preroll: bool = False, name: str = ""
) -> BreakPosition:
    return BreakPosition(index=index, start=start, previous=previous, preroll=preroll, break_id=name)


@pytest.mark.parametrize(
    ("offset", "repeat", "position", "expected"),
    [
        ("start", None, at(4.0, preroll=True), True),  # the session's first break, at its start
        ("start", None, at(90.0), False),  # a first break 90 s in is no pre-roll
        ("start", None, at(190.0, 90.0, 2), False),
        ("0%", None, at(4.0, preroll=True), True),
        ("00:00:00", None, at(90.0), False),
        ("start", 60.0, at(90.0), True),  # due again at 60 s
        ("start", 60.0, at(110.0, 100.0, 2), False),  # 120 s is not due yet
        ("start", 60.0, at(130.0, 110.0, 3), True),
        ("00:05:00", None, at(300.0), True),  # due at the break's own start
        ("00:05:00", None, at(299.9), False),  # not due yet
        ("00:05:00", None, at(420.0, 240.0, 2), True),  # the first break after it is due
        ("00:05:00", None, at(600.0, 420.0, 3), False),  # played at the break before: never twice
        ("00:05:00.500", None, at(300.5, 120.0, 2), True),
        ("00:05:00", 300.0, at(600.0, 420.0, 3), True),  # repeatAfter: due at 600
        ("00:05:00", 300.0, at(840.0, 600.0, 4), False),
        ("00:05:00", 300.0, at(3000.0, 2900.0, 9), True),  # 3000 = 300 + 9 × 300
        ("#2", None, at(500.0, 200.0, 2), True),
        ("#2", None, at(800.0, 500.0, 3), False),
        ("#1", 1.0, at(800.0, 500.0, 3), True),  # every break from the first
        ("#2", 3.0, at(0.0, None, 5), True),  # breaks 2, 5, 8…
        ("#2", 3.0, at(0.0, None, 6), False),
        ("50%", None, at(800.0, 500.0, 3), True),  # no duration in live: due at every break
        ("end", None, at(800.0, 500.0, 3), False),
        ("100%", None, at(800.0, 500.0, 3), False),
    ],
)
def test_time_offsets_match_the_break_position(
    offset: str, repeat: float | None, position: BreakPosition, expected: bool
) -> None:
    assert matches(ad_break(offset, repeat), position) is expected


@pytest.mark.parametrize(
    ("break_id", "origin", "expected"),
    [("0x1F", "31", True), ("31", "0x1f", True), ("Ad-Break-7", "ad-break-7", True), ("midroll-1", "0x1F", False)],
)
def test_a_break_id_naming_the_origin_break_matches_whatever_its_offset(
    break_id: str, origin: str, expected: bool
) -> None:
    assert matches(ad_break("end", break_id=break_id), at(800.0, 500.0, 3, name=origin)) is expected


def test_every_matching_adbreak_contributes_in_document_order() -> None:
    schedule = parse_vmap(VMAP)
    chosen = live_break(schedule, at(600.0, 420.0, 3, name="31"))
    assert [brk.source_id for brk in chosen] == ["mid-inline", "mid-tag", "named"]
    assert live_break(schedule, at(4.0, preroll=True)) == (schedule.breaks[0],)
    assert live_break(schedule, at(840.0, 600.0, 4)) == ()


async def test_the_pod_aggregates_inline_vast_and_ad_tag_uris_then_never_clips() -> None:
    fetch = own()
    response = await resolve(OWN + "vmap_live.xml", fetch, expected="dfp_ad_rules", position=at(300.0))
    assert [(ad.ad_id, ad.duration) for ad in response.ads] == [("mid-1", 20.0), ("mid-2", 10.0), ("ad-42", 15.5)]
    assert fetch.requested == [
        OWN + "vmap_live.xml",
        OWN + "chain_w1.xml",
        OWN + "chain_w2.xml",
        OWN + "inline_vast2.xml",
    ]
    tagged = response.ads[2]
    assert tagged.wrapper_chain == (OWN + "chain_w2.xml", OWN + "inline_vast2.xml")
    assert tagged.errors[0] == "https://mid.example.com/break-error?code=[ERRORCODE]"  # the AdBreak's error URI
    assert response.break_tracking == (
        ("breakStart", "https://mid.example.com/break-start"),
        ("error", "https://mid.example.com/break-error?code=[ERRORCODE]"),
    )
    chosen, dropped = fit(response.ads, 40.0)  # 20 + 10 fit; 15.5 s is longer than the 10 s left
    assert [ad.ad_id for ad in chosen] == ["mid-1", "mid-2"]
    assert [(skip.ad_id, skip.reason) for skip in dropped] == [("ad-42", "AVAIL_DURATION_EXCEEDED")]


def wrappers(depth: int) -> dict[str, bytes]:
    """https://own.test/w1 → w2 → … → w{depth} → inline_vast2.xml."""
    chain = {}
    for n in range(1, depth + 1):
        target = f"w{n + 1}" if n < depth else "inline_vast2.xml"
        chain[f"{OWN}w{n}"] = (
            f'<VAST version="3.0"><Ad id="w{n}"><Wrapper><AdSystem>own</AdSystem>'
            f"<VASTAdTagURI>{OWN}{target}</VASTAdTagURI><Error>{OWN}err{n}?c=[ERRORCODE]</Error></Wrapper></Ad></VAST>"
        ).encode()
    return chain


def tag_vmap(*tags: str) -> bytes:
    body = "".join(
        f'<vmap:AdBreak timeOffset="#1" breakType="linear" breakId="b{n}"><vmap:AdSource id="s{n}">'
        f"<vmap:AdTagURI><![CDATA[{tag}]]></vmap:AdTagURI></vmap:AdSource></vmap:AdBreak>"
        for n, tag in enumerate(tags)
    )
    return f'<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0">{body}</vmap:VMAP>'.encode()


@pytest.mark.parametrize(("depth", "ads", "codes"), [(5, ["ad-42"], []), (6, [], [("w6", 302)])])
async def test_an_ad_tag_uri_follows_wrappers_under_the_same_limit(
    depth: int, ads: list[str], codes: list[tuple[str, int]]
) -> None:
    files = {
        OWN + "vmap": tag_vmap(OWN + "w1"),
        **wrappers(depth),
        OWN + "inline_vast2.xml": own().files[OWN + "inline_vast2.xml"],
    }
    response = await resolve(OWN + "vmap", Fetcher(files), expected="dfp_ad_rules")
    assert [ad.ad_id for ad in response.ads] == ads
    assert [(skip.ad_id, skip.code) for skip in response.skipped] == codes


async def test_an_empty_vast_from_one_ad_tag_uri_is_reported_and_the_others_still_play() -> None:
    response = await resolve(
        OWN + "vmap", Fetcher({OWN + "vmap": tag_vmap("empty.xml", "inline_vast2.xml"), **own().files})
    )
    assert [ad.ad_id for ad in response.ads] == ["ad-42"]
    ((reason, code, urls),) = [(s.reason, s.code, s.error_urls) for s in response.skipped]
    assert (reason, code) == ("EMPTY_VAST_RESPONSE", 303)
    assert urls == ("https://track.example.com/no-ad?code=[ERRORCODE]",)


@pytest.mark.parametrize(
    ("name", "ads", "skipped"),
    [
        ("pod_vast4_ns.xml", ["pod-first", "pod-second"], []),  # a VAST pod: played in sequence order
        ("inline_vast2.xml", ["ad-42"], []),  # a single VAST ad
        ("empty.xml", [], [303]),  # an empty VAST: nothing, 303 to its <Error>
    ],
)
async def test_a_dfp_configuration_accepts_vast_answers(name: str, ads: list[str], skipped: list[int]) -> None:
    response = await resolve(OWN + name, own(), expected="dfp_ad_rules")
    assert [ad.ad_id for ad in response.ads] == ads
    assert [skip.code for skip in response.skipped] == skipped


async def test_a_smartxml_slot_is_matched_like_a_vmap_adbreak() -> None:
    before, after = at(200.0, 100.0, 2), at(310.0, 200.0, 3)  # its mid-roll slot is at 300 s
    assert (await resolve(OWN + "smartxml.xml", own(), position=before)).ads == ()
    assert len((await resolve(OWN + "smartxml.xml", own(), position=after)).ads) == 2
    named = at(200.0, 100.0, 2, name="mid_1")  # its customId names the break
    assert len((await resolve(OWN + "smartxml.xml", own(), position=named)).ads) == 2
