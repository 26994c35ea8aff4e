"""Watchword: self-hosted multi-factor authentication."""

__version__ = "0.1.0"
