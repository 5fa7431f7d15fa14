"""Running ffmpeg (the imageio-ffmpeg binary): `probe` reads a source's duration, size, frame rate and audio from
its report, `run_with_progress` runs an encode under a time limit reporting how far it got; a failure is a
`TranscodeError` naming its stage and quoting ffmpeg's report. Blocking: callers run these in a worker thread."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Stage = Literal["probe", "transcode", "verify"]
PROBE_TIMEOUT = 30.0
_STDERR_LINES = 4


class TranscodeError(Exception):
    def __init__(self, stage: Stage, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage: Stage = stage
        self.message = message


@dataclass(frozen=True, slots=True)
class SourceInfo:
    duration: float
    width: int
    height: int
    frame_rate: float | None
    audio: bool


def default_ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


# --- probe -----------------------------------------------------------------------------------------------

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: .*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")
_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: ")


def probe(source: Path, ffmpeg: str | None = None, *, timeout: float = PROBE_TIMEOUT) -> SourceInfo:
    """Duration, size, frame rate and audio presence from `ffmpeg -i` (imageio-ffmpeg ships no ffprobe)."""
    argv = [ffmpeg or default_ffmpeg(), "-nostdin", "-hide_banner", "-i", str(source)]
    _, stderr = _spawn(argv, timeout, "probe")  # exits 1 ("no output file"): the report is all we want
    duration, video = _DURATION.search(stderr), _VIDEO.search(stderr)
    if duration is None or video is None:
        raise TranscodeError("probe", f"{source.name} has no duration or no video stream: {_tail(stderr)}")
    hours, minutes, seconds = duration.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if total <= 0:
        raise TranscodeError("probe", f"{source.name} lasts {total} s")
    video_line = stderr[video.start() :].splitlines()[0]
    fps = _FPS.search(video_line)
    return SourceInfo(
        total,
        int(video.group(1)),
        int(video.group(2)),
        float(fps.group(1)) if fps else None,
        bool(_AUDIO.search(stderr)),
    )


# --- running ffmpeg --------------------------------------------------------------------------------------


def _spawn(argv: list[str], timeout: float, stage: Stage) -> tuple[int, str]:
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as error:
        raise TranscodeError(stage, f"cannot run {argv[0]}: {error}") from None
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise TranscodeError(stage, f"ffmpeg ran over {timeout:g} s and was killed: {_tail(stderr)}") from None
    return process.returncode, stderr.decode("utf-8", errors="replace")


def run_with_progress(
    argv: list[str], timeout: float, duration: float, progress: Callable[[float], None], nice: int
) -> None:
    """Run ffmpeg, reading its `-progress` key=value lines from stdout (stderr goes to a file, so neither
    pipe can fill up and block ffmpeg)."""
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        except OSError as error:
            raise TranscodeError("transcode", f"cannot run {argv[0]}: {error}") from None
        with process:  # closes the stdout pipe whatever happens
            if nice:
                os.setpriority(os.PRIO_PROCESS, process.pid, nice)
            timer = threading.Timer(timeout, process.kill)
            timer.start()
            try:
                _read_progress(process, duration, progress)
                code = process.wait()
            except BaseException:  # the progress callback cancels the job by raising: ffmpeg must not run on
                process.kill()
                raise
            finally:
                timer.cancel()
        stderr.seek(0)
        report = stderr.read()
    if code != 0:
        killed = f"ffmpeg ran over {timeout:g} s and was killed" if code == -9 else f"ffmpeg exited with {code}"
        raise TranscodeError("transcode", f"{killed}: {_tail(report)}")


def _read_progress(process: subprocess.Popen[bytes], duration: float, progress: Callable[[float], None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        key, _, value = line.decode("ascii", errors="replace").strip().partition("=")
        if key == "out_time_us" and value.isdigit():
            progress(min(1.0, int(value) / 1e6 / duration))


def _tail(stderr: str | bytes) -> str:
    """The first lines (ffmpeg names the cause there) and the last ones (what it gave up on), on one line."""
    text = stderr.decode("utf-8", errors="replace") if isinstance(stderr, bytes) else stderr
    lines = text.strip().splitlines()
    if len(lines) > 2 * _STDERR_LINES:
        lines = [*lines[:_STDERR_LINES], "…", *lines[-_STDERR_LINES:]]
    return " | ".join(lines)
