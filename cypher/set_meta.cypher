// Set one key/value setting. Parameters: $key, $value. Returns: nothing.
MERGE (m:Meta {key: $key})
SET m.value = $value
