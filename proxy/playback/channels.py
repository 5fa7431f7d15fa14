"""The channels of this process: each as configured now, a runtime per configuration version some session still
uses (a session keeps the configuration it started with), and the cue points scheduled on each until they end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from proxy.hls.breaks import CuePoint
from proxy.playback.runtime import ChannelRuntime
from proxy.playback.sessions import Session
from proxy.settings import ChannelConfig


class ChannelRuntimes:
    """The configurations by channel name, the runtimes by (name, version) and the cue points by channel name."""

    def __init__(self, configs: Mapping[str, ChannelConfig], start: Callable[[ChannelConfig], ChannelRuntime]) -> None:
        """`start` makes the runtime of a version the first time one of its sessions needs it."""
        self.start = start
        self.configs: dict[str, ChannelConfig] = dict(configs)
        self.runtimes: dict[tuple[str, str], ChannelRuntime] = {}
        self.cuepoints: dict[str, dict[str, CuePoint]] = {}  # by channel, until they have ended
        self.retired_clamped: Counter[str] = Counter()  # breaks_clamped of the runtimes retired so far

    @property
    def current(self) -> dict[str, ChannelRuntime]:
        """The current runtime of each channel that has one."""
        found = ((name, self.runtimes.get(config.key)) for name, config in self.configs.items())
        return {name: runtime for name, runtime in found if runtime is not None}

    def set(self, configs: Mapping[str, ChannelConfig]) -> None:
        """The channels from now on: sessions created after this use them; existing ones keep theirs. The cue
        points of a channel gone, or whose name another account now holds, are dropped: never its breaks."""
        for name in list(self.cuepoints):
            before, after = self.configs.get(name), configs.get(name)
            if after is None or (before is not None and before.account_id != after.account_id):
                del self.cuepoints[name]
        self.configs = dict(configs)

    def schedule(self, channel: str, cuepoint: CuePoint) -> None:
        """A cue point for every runtime of `channel`, those started later included."""
        self.cuepoints.setdefault(channel, {})[cuepoint.id] = cuepoint
        for runtime in self.runtimes.values():
            if runtime.config.name == channel:
                runtime.tracker.schedule(cuepoint)

    def runtime(self, config: ChannelConfig) -> ChannelRuntime:
        runtime = self.runtimes.get(config.key)
        if runtime is None:
            runtime = self.start(config)
            for cuepoint in self.cuepoints.get(config.name, {}).values():
                runtime.tracker.schedule(cuepoint)
            self.runtimes[config.key] = runtime
        return runtime

    def runtime_of(self, session: Session) -> ChannelRuntime:
        return self.runtimes[(session.channel, session.version)]

    def forget_cuepoints_ended(self, wall: float) -> None:
        for cuepoints in self.cuepoints.values():
            for cuepoint in [c for c in cuepoints.values() if c.starts_at + c.duration < wall]:
                del cuepoints[cuepoint.id]

    def retire(self, key: tuple[str, str]) -> ChannelRuntime | None:
        """The runtime of a version no longer configured, out of the registry once its last session has gone."""
        runtime = self.runtimes[key]
        current = self.configs.get(key[0])
        if (current is not None and current.key == key) or runtime.sessions:
            return None
        del self.runtimes[key]
        self.retired_clamped.update(runtime.tracker.clamped)
        return runtime

    def breaks_clamped(self) -> Counter[str]:
        """Breaks whose planned duration was cut to max_break_duration, by reason, since the start."""
        counted = Counter(self.retired_clamped)
        for runtime in self.runtimes.values():
            counted.update(runtime.tracker.clamped)
        return counted
