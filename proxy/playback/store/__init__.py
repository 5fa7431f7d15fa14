"""Stores behind one interface each, chosen by URL; `memory://` is the single-process default."""

from __future__ import annotations
