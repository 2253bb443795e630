// Forget the throttling events of some keys (a successful sign-in). Parameters: $keys (list of text).
// Returns: nothing.
UNWIND $keys AS k
MATCH (t:Throttle {key: k})
DELETE t
