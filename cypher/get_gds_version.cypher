// Whether Graph Data Science is installed. Parameters: none. Returns: version.
RETURN gds.version() AS version
