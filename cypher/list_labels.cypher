// Label events after a sequence number, in order.
// Parameters: $after_seq, $limit. Returns: seq, subject, subject_id, value, known_at, source, fraud_type.
MATCH (l:Label)
WHERE l.seq > $after_seq
RETURN l.seq AS seq, l.subject AS subject, l.subject_id AS subject_id, l.value AS value, l.known_at AS known_at,
       l.source AS source, l.fraud_type AS fraud_type
ORDER BY l.seq
LIMIT $limit
