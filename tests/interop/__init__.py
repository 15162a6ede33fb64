"""Interoperability with the official A2A SDK (a2a-sdk); see docs/interop.md."""
