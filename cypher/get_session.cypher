// One investigator session. Parameters: $sid_hash. Returns: user, created_at, last_seen.
MATCH (s:Session {sid_hash: $sid_hash})
RETURN s.user AS user, s.created_at AS created_at, s.last_seen AS last_seen
