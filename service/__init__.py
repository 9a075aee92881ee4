"""The feedsift HTTP API: a Flask app over the engine's public searcher."""
