"""Feeds kept fresh: fetching over HTTP, the registry of feeds and their fetch state, and polling."""
