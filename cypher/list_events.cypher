// Other events (model changes, erasures) after a sequence number.
// Parameters: $after_seq, $limit. Returns: seq, kind, data (JSON text).
MATCH (e:Event)
WHERE e.seq > $after_seq
RETURN e.seq AS seq, e.kind AS kind, e.data AS data
ORDER BY e.seq
LIMIT $limit
