// End every session of one account. Parameters: $user. Returns: n (how many ended).
OPTIONAL MATCH (s:Session {user: $user})
DELETE s
RETURN count(s) AS n
