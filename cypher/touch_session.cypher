// Record a session's latest request. Parameters: $sid_hash, $at. Returns: nothing.
MATCH (s:Session {sid_hash: $sid_hash})
SET s.last_seen = $at
