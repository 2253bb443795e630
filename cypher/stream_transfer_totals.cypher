// Money between users: one row per (payer, receiver) pair of the TRANSFERRED relationships.
// Parameters: none. Returns: src (payer user id), dst (receiver user id), n (transfers), amount (their sum),
// first_ts, last_ts (epoch ms).
MATCH (a:User)-[r:TRANSFERRED]->(b:User)
RETURN a.id AS src, b.id AS dst, count(r) AS n, sum(r.amount) AS amount, min(r.ts) AS first_ts, max(r.ts) AS last_ts
