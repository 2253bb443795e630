// One sign-in throttling event per key, then drop events older than $forget_before.
// Parameters: $keys (list of text), $at, $forget_before. Returns: nothing.
UNWIND $keys AS k
CREATE (:Throttle {key: k, at: $at})
WITH count(*) AS made
OPTIONAL MATCH (old:Throttle)
WHERE old.at < $forget_before
DELETE old
