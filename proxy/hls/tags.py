"""HLS tag names, spelled once (RFC 8216bis §4.4, and the ad-marker dialects of reference/markers.md §1).

Each constant is the tag's name with its `#` and without the `:` that introduces its value, as m3u8's
protocol.py does; callers append `:` where they match or write a value. The marker dialects (CUE-OUT,
OATCLS, SPLICEPOINT, …) are not in the RFC but are what origins send.
"""

from __future__ import annotations

# Basic and media playlist tags (RFC 8216bis §4.4.1 - §4.4.3).
EXTM3U = "#EXTM3U"
EXTINF = "#EXTINF"
EXT_X_VERSION = "#EXT-X-VERSION"
EXT_X_DEFINE = "#EXT-X-DEFINE"
EXT_X_INDEPENDENT_SEGMENTS = "#EXT-X-INDEPENDENT-SEGMENTS"
EXT_X_START = "#EXT-X-START"
EXT_X_TARGETDURATION = "#EXT-X-TARGETDURATION"
EXT_X_MEDIA_SEQUENCE = "#EXT-X-MEDIA-SEQUENCE"
EXT_X_DISCONTINUITY_SEQUENCE = "#EXT-X-DISCONTINUITY-SEQUENCE"
EXT_X_ENDLIST = "#EXT-X-ENDLIST"
EXT_X_PLAYLIST_TYPE = "#EXT-X-PLAYLIST-TYPE"
EXT_X_I_FRAMES_ONLY = "#EXT-X-I-FRAMES-ONLY"
EXT_X_ALLOW_CACHE = "#EXT-X-ALLOW-CACHE"  # removed in RFC 8216 (§7), still sent by old packagers

# Low-latency and delta-update tags (RFC 8216bis §4.4.3.7 - §4.4.5.4).
EXT_X_SERVER_CONTROL = "#EXT-X-SERVER-CONTROL"
EXT_X_PART_INF = "#EXT-X-PART-INF"
EXT_X_PART = "#EXT-X-PART"
EXT_X_PRELOAD_HINT = "#EXT-X-PRELOAD-HINT"
EXT_X_RENDITION_REPORT = "#EXT-X-RENDITION-REPORT"
EXT_X_SKIP = "#EXT-X-SKIP"

# Media segment tags (RFC 8216bis §4.4.4).
EXT_X_BYTERANGE = "#EXT-X-BYTERANGE"
EXT_X_DISCONTINUITY = "#EXT-X-DISCONTINUITY"
EXT_X_KEY = "#EXT-X-KEY"
EXT_X_MAP = "#EXT-X-MAP"
EXT_X_PROGRAM_DATE_TIME = "#EXT-X-PROGRAM-DATE-TIME"
EXT_X_DATERANGE = "#EXT-X-DATERANGE"

# Multivariant playlist tags (RFC 8216bis §4.4.6).
EXT_X_MEDIA = "#EXT-X-MEDIA"
EXT_X_STREAM_INF = "#EXT-X-STREAM-INF"
EXT_X_I_FRAME_STREAM_INF = "#EXT-X-I-FRAME-STREAM-INF"
EXT_X_SESSION_PREFIX = "#EXT-X-SESSION-"  # SESSION-DATA and SESSION-KEY (§4.4.6.4, §4.4.6.5)

# Ad-marker dialects (reference/markers.md §1; SCTE 35 §12.2 for EXT-X-SCTE35).
EXT_X_CUE = "#EXT-X-CUE"  # Adobe's tag, and the prefix of the CUE-OUT family
EXT_X_CUE_CONT = "#EXT-X-CUE-CONT"
EXT_X_CUE_OUT = "#EXT-X-CUE-OUT"
EXT_X_CUE_OUT_CONT = "#EXT-X-CUE-OUT-CONT"
EXT_X_CUE_IN = "#EXT-X-CUE-IN"
EXT_X_CUE_SPAN = "#EXT-X-CUE-SPAN"
EXT_X_ASSET = "#EXT-X-ASSET"
EXT_OATCLS_SCTE35 = "#EXT-OATCLS-SCTE35"
EXT_X_SPLICEPOINT_SCTE35 = "#EXT-X-SPLICEPOINT-SCTE35"
EXT_X_SCTE35 = "#EXT-X-SCTE35"
EXT_SCTE35 = "#EXT-SCTE35"
