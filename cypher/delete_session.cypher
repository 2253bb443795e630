// End one session (sign-out). Parameters: $sid_hash. Returns: nothing.
MATCH (s:Session {sid_hash: $sid_hash})
DELETE s
