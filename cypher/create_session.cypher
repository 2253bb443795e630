// An investigator session, known by the SHA-256 of its random id. Parameters: $sid_hash, $user, $at.
// Returns: nothing; the uniqueness constraint refuses a second session with the same id.
CREATE (:Session {sid_hash: $sid_hash, user: $user, created_at: $at, last_seen: $at})
