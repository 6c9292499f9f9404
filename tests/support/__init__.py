"""Test support: servers for the session, isolated databases and streams per test."""
