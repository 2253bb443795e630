// Remove one key/value setting. Parameters: $key. Returns: nothing.
MATCH (m:Meta {key: $key})
DELETE m
