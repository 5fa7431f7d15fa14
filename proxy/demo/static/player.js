/*
 * ssai-proxy demo player (see index.html). Plain browser JavaScript: no modules, no build step.
 *
 * What a player does with the proxy (Tencent Cloud StreamPackage SSAI click-through workflow):
 *   1. POST /v1/ssai/session/{channel}/main.m3u8  ->  {"manifestUrl", "trackingUrl"}
 *   2. play manifestUrl (here with hls.js)
 *   3. poll trackingUrl every target duration; each ad is returned once, with its clickThrough URL
 *   4. while an ad plays, show a clickable overlay; a click opens beaconUrls[0] in a new tab (with server-side
 *      beacons a proxy URL that fires the ad's ClickTracking and redirects to the landing page)
 *   5. poll trackingUrl + "/events": this session's beacons, each with its ad, break, time and outcome (fired by
 *      the proxy; with client-side reporting, listed for the player to fire)
 *
 * How the page knows an ad is playing: every ad of the tracking API carries `mediaSequence` and
 * `segmentCount`, the media sequence numbers of its segments in the session's playlists (the same in
 * every variant). hls.js tells us the fragment being played (FRAG_CHANGED, `frag.sn`); when that
 * number falls in an ad's range, the overlay is shown.
 *
 * For tests and curious people, everything the page learns is in `window.demo` (see `demo` below),
 * and the hls.js instance is `window.hls`.
 */
(function () {
  "use strict";

  // ?channel=mp4 plays the channel whose ads and slate are MP4s the proxy transcodes; "demo" otherwise.
  var CHANNEL = new URLSearchParams(location.search).get("channel") || "demo";
  // ?proxy=http://host:port plays from a proxy of another origin (this page copied to any web server): the
  // proxy answers player pages of every origin (SSAI_CORS_ORIGINS). Default: the proxy that served the page.
  var PROXY = new URLSearchParams(location.search).get("proxy") || location.origin;
  var DEFAULT_TARGET_DURATION = 6; // seconds, until hls.js has read EXT-X-TARGETDURATION
  var MAX_ENTRIES = 5000; // bound on every list below, so a demo left open for days stays small

  // Everything the page knows, for tests (Playwright reads it) and for the browser console.
  var demo = {
    channel: CHANNEL,
    sessionId: null,
    manifestUrl: null,
    trackingUrl: null,
    eventsUrl: null, // trackingUrl + "/events": this session's beacons and their outcomes
    targetDuration: DEFAULT_TARGET_DURATION,
    errors: [], // every hls.js ERROR event: {type, details, fatal, sn, url, status, message, currentTime}
    fatalErrors: [], // the fatal ones among them (also in `errors`)
    trackingErrors: [], // failed polls of the tracking API and of the session's events
    fragments: [], // fragments loaded by hls.js: {sn, url, level, cc, start, duration}
    played: [], // fragments playback entered (FRAG_CHANGED), same shape as `fragments`
    ads: [], // ads received from the tracking API, in order, each once
    polls: 0, // tracking API responses received
    currentSn: null, // media sequence number of the fragment being played
    state: "none", // "content", "ad" or "slate": what the current fragment is
    breaks: 0, // ad breaks playback entered (content -> ad or slate)
    overlayAdId: null, // adId whose overlay is shown, or null
    beacons: { firedBy: null, events: [], dropped: 0 }, // the last answer of eventsUrl (the proxy bounds it)
  };
  window.demo = demo;

  var video = document.getElementById("video");
  var overlay = document.getElementById("ad-overlay");
  var overlayText = document.getElementById("ad-overlay-text");

  function push(list, entry) {
    list.push(entry);
    if (list.length > MAX_ENTRIES) list.splice(0, list.length - MAX_ENTRIES);
  }

  function setText(id, text) {
    document.getElementById(id).textContent = String(text);
  }

  // ---- 1. Session -------------------------------------------------------------------------------

  async function createSession() {
    var response = await fetch(new URL("/v1/ssai/session/" + encodeURIComponent(CHANNEL) + "/main.m3u8", PROXY), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}", // ad parameters would go here, e.g. {"adsParams": {"lang": "en"}}
    });
    if (!response.ok) {
      throw new Error("session API: HTTP " + response.status + " " + (await response.text()));
    }
    var session = await response.json();
    // Relative to the session API's URL (RFC 3986 §5.1.3), not to this page: the proxy may be elsewhere.
    demo.manifestUrl = new URL(session.manifestUrl, response.url).href;
    demo.trackingUrl = new URL(session.trackingUrl, response.url).href;
    demo.eventsUrl = demo.trackingUrl + "/events";
    demo.sessionId =
      new URL(demo.manifestUrl).searchParams.get("session_id") || demo.trackingUrl.split("/").pop();
    setText("manifest-url", session.manifestUrl);
    setText("tracking-url", session.trackingUrl);
    setText("status-session", demo.sessionId);
  }

  // ---- 2. Playback ------------------------------------------------------------------------------

  // What a fragment is: content comes from the demo origin; among the rest, the tracking API's ranges
  // (what a real player has) name the ads, and the demo ad server's own creative URLs do so too before the
  // tracking poll has caught up. Anything else is slate (the ad server's, or one the proxy transcoded).
  function kindOf(frag) {
    if (frag.url.indexOf("/demo/origin/") !== -1) return "content";
    if (adAt(frag.sn) || frag.url.indexOf("/demo/ads/creatives/") !== -1) return "ad";
    return "slate";
  }

  function fragEntry(frag) {
    return {
      sn: frag.sn,
      url: frag.url,
      level: frag.level,
      cc: frag.cc,
      start: frag.start,
      duration: frag.duration,
    };
  }

  function errorEntry(data) {
    var url = (data.frag && data.frag.url) || (data.context && data.context.url) || data.url || null;
    var message = data.error ? String(data.error.message || data.error) : String(data.reason || "");
    return {
      type: data.type,
      details: data.details,
      fatal: Boolean(data.fatal),
      sn: data.frag ? data.frag.sn : null,
      url: url,
      status: data.response ? data.response.code : null, // HTTP status of a failed load
      message: message,
      currentTime: video.currentTime,
    };
  }

  function startPlayback() {
    if (!window.Hls || !Hls.isSupported()) {
      // Safari without MediaSource: native HLS plays, but there are no fragment events for the overlay.
      showError("hls.js is not supported here; trying native HLS (no ad overlay)");
      video.src = demo.manifestUrl;
      return;
    }
    var hls = new Hls({ liveSyncDurationCount: 3 });
    window.hls = hls;

    hls.on(Hls.Events.LEVEL_LOADED, function (event, data) {
      if (data.details && data.details.targetduration > 0) {
        demo.targetDuration = data.details.targetduration;
      }
    });

    hls.on(Hls.Events.FRAG_LOADED, function (event, data) {
      push(demo.fragments, fragEntry(data.frag));
    });

    // Playback entered a new fragment: this is the moment to decide "ad or not".
    hls.on(Hls.Events.FRAG_CHANGED, function (event, data) {
      var frag = data.frag;
      var state = kindOf(frag);
      if (state !== "content" && demo.state !== "ad" && demo.state !== "slate") demo.breaks += 1;
      demo.state = state;
      demo.currentSn = frag.sn;
      push(demo.played, fragEntry(frag));
      updateOverlay();
      renderStatus();
    });

    // Non-fatal errors: hls.js retries by itself, we only log them. Fatal ones: try to recover.
    hls.on(Hls.Events.ERROR, function (event, data) {
      var entry = errorEntry(data);
      push(demo.errors, entry);
      showError((entry.fatal ? "FATAL " : "") + entry.type + "/" + entry.details + " " + (entry.url || entry.message));
      if (!data.fatal) {
        console.warn("hls.js error", entry);
        return;
      }
      console.error("hls.js fatal error", entry);
      push(demo.fatalErrors, entry);
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        hls.startLoad();
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        hls.destroy(); // nothing to recover from: stop, the error stays on the page
      }
    });

    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      // Muted autoplay is allowed by browsers; if it is not, the controls let the user start it.
      var started = video.play();
      if (started && started.catch) {
        started.catch(function (err) {
          showError("autoplay refused (" + err.name + "): press play");
        });
      }
    });

    hls.loadSource(demo.manifestUrl);
    hls.attachMedia(video);
  }

  // ---- 3. Tracking API --------------------------------------------------------------------------

  async function pollTracking() {
    try {
      var response = await fetch(demo.trackingUrl, { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      var doc = await response.json();
      demo.polls += 1;
      (doc.avails || []).forEach(function (avail) {
        (avail.ads || []).forEach(addAd);
      });
      updateOverlay();
      renderStatus();
    } catch (err) {
      push(demo.trackingErrors, { message: String(err), at: new Date().toISOString() });
      showError("tracking API: " + err);
    } finally {
      // Same pace as the playlist refreshes (StreamPackage: poll tracking every target duration).
      setTimeout(pollTracking, demo.targetDuration * 1000);
    }
  }

  // This session's beacons (a player route, like trackingUrl: readable from a page of any allowed origin). With
  // server-side beacons the proxy fired them (outcome fired, failed, refused, dropped; queued or retrying while
  // under way); with client-side reporting the player fires them and the proxy lists what it handed over.
  async function pollEvents() {
    try {
      var response = await fetch(demo.eventsUrl, { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      var doc = await response.json();
      demo.beacons = { firedBy: doc.firedBy, events: doc.events || [], dropped: doc.dropped || 0 };
      renderBeacons();
    } catch (err) {
      push(demo.trackingErrors, { message: "events: " + err, at: new Date().toISOString() });
      setText("status-beacons", "unavailable: " + err);
    } finally {
      setTimeout(pollEvents, demo.targetDuration * 1000);
    }
  }

  function renderBeacons() {
    var outcomes = {};
    demo.beacons.events.forEach(function (e) { outcomes[e.outcome] = (outcomes[e.outcome] || 0) + 1; });
    var parts = Object.keys(outcomes).sort().map(function (outcome) { return outcome + " " + outcomes[outcome]; });
    var who = demo.beacons.firedBy === "player" ? "client-side reporting: the player fires them" : "fired by the proxy";
    var dropped = demo.beacons.dropped ? ", " + demo.beacons.dropped + " older dropped" : "";
    setText("status-beacons", who + (parts.length ? " · " + parts.join(" · ") : " · none yet") + dropped);
    var rows = document.getElementById("beacons-rows");
    rows.replaceChildren.apply(rows, demo.beacons.events.slice().reverse().map(beaconRow)); // newest first
    setText("beacons-count", demo.beacons.events.length);
  }

  function beaconRow(e) {
    var row = document.createElement("tr");
    row.className = "outcome-" + e.outcome;
    var time = new Date(e.time).toLocaleTimeString([], { hour12: false });
    [time, e.event, e.adId || "–", e.break || "–", e.outcome].forEach(function (text) {
      var cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    });
    return row;
  }

  // With server-side beacons the clickThrough is the proxy's click URL (relative to it, like trackingUrl): it
  // fires the ad's ClickTracking and redirects to the landing page. Client-side, it is the landing page itself.
  function clickThroughOf(ad) {
    var events = ad.trackingEvents || [];
    for (var i = 0; i < events.length; i++) {
      var urls = events[i].beaconUrls || [];
      if (events[i].eventType === "clickThrough" && urls.length) return new URL(urls[0], demo.trackingUrl).href;
    }
    return null;
  }

  function addAd(ad) {
    push(demo.ads, ad);
    var li = document.createElement("li");
    var first = ad.mediaSequence;
    var last = ad.mediaSequence + ad.segmentCount - 1;
    li.textContent =
      ad.title + " (" + ad.adId + ", " + ad.durationInSeconds + " s at " + ad.startTimeInSeconds +
      " s, segments " + first + "–" + last + ") ";
    var url = clickThroughOf(ad);
    if (url) {
      var link = document.createElement("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "clickThrough";
      li.appendChild(link);
    }
    document.getElementById("ads-list").appendChild(li);
  }

  // ---- 4. Overlay -------------------------------------------------------------------------------

  function adAt(sn) {
    for (var i = demo.ads.length - 1; i >= 0; i--) {
      var ad = demo.ads[i];
      if (sn >= ad.mediaSequence && sn < ad.mediaSequence + ad.segmentCount) return ad;
    }
    return null;
  }

  function updateOverlay() {
    var ad = demo.currentSn === null ? null : adAt(demo.currentSn);
    var url = ad ? clickThroughOf(ad) : null;
    if (!ad || !url) {
      overlay.hidden = true;
      demo.overlayAdId = null;
      return;
    }
    overlay.href = url; // a plain link: the click opens the landing page in a new tab
    overlayText.textContent = "Ad: " + ad.title + " — learn more";
    overlay.hidden = false;
    demo.overlayAdId = ad.adId;
  }

  // ---- Status panel -----------------------------------------------------------------------------

  function renderStatus() {
    setText("status-sn", demo.currentSn === null ? "–" : demo.currentSn);
    var state = document.getElementById("status-state");
    state.textContent = demo.state;
    state.className = "state state-" + demo.state;
    setText("status-breaks", demo.breaks);
    setText("status-polls", demo.polls);
    setText("ads-count", demo.ads.length);
  }

  function showError(text) {
    var li = document.createElement("li");
    li.textContent = new Date().toLocaleTimeString() + "  " + text;
    var list = document.getElementById("errors-list");
    list.appendChild(li);
    while (list.children.length > 50) list.removeChild(list.firstChild);
    setText("errors-count", demo.errors.length + demo.trackingErrors.length);  // hls.js and tracking API
  }

  // ---- Start ------------------------------------------------------------------------------------

  setText("status-channel", CHANNEL);
  createSession().then(
    function () {
      startPlayback();
      pollTracking();
      pollEvents();
    },
    function (err) {
      showError(String(err));
      setText("manifest-url", "no session: " + err);
    }
  );
})();
