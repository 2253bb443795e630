// The case open or in review on one thing, the oldest. Parameters: $kind, $ref. Returns: id, or no row.
MATCH (c:Case {kind: $kind, ref: $ref})
WHERE c.status IN ['open', 'in_review']
RETURN c.id AS id
ORDER BY c.id
LIMIT 1
