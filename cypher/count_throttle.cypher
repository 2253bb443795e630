// Throttling events per key at or after $since. Parameters: $keys (list of text), $since.
// Returns: key, n (0 for keys without events).
UNWIND $keys AS k
OPTIONAL MATCH (t:Throttle {key: k})
WHERE t.at >= $since
RETURN k AS key, count(t) AS n
