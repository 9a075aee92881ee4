"""Search: the engine seam, the query language and the analysis and highlighting both engines share."""
