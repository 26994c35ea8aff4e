"""Companion authenticator for Watchword."""
