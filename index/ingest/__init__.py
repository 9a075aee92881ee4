"""Ingestion: read an input, detect its format, parse it and normalise every record into a FeedItem."""
