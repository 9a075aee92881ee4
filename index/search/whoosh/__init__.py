"""The embedded engine: a Whoosh index on disk, its writer and its readers."""
