"""SSAI stitching proxy for live HLS."""

from __future__ import annotations

__version__ = "0.1.0"
