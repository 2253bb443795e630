// Remove everything in batches (tests, and `graphfraud` never calls it on its own).
// Parameters: none. Returns: nothing.
MATCH (n)
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
