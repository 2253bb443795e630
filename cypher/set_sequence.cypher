// Move the sequence's end (inside the write transaction that took the lock).
// Parameters: $value (int). Returns: nothing.
MATCH (m:Meta {key: 'seq'})
SET m.value = $value, m.locked = false
