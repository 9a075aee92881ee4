"""The Typesense engine: the same Engine served by a Typesense node or cluster."""
