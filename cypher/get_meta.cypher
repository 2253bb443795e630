// One key/value setting. Parameters: $key. Returns: value.
MATCH (m:Meta {key: $key})
RETURN m.value AS value
