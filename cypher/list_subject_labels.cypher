// The label events of one subject, oldest first.
// Parameters: $subject ('transaction' or 'user'), $subject_id. Returns: value, known_at, source, fraud_type.
MATCH (l:Label {subject: $subject, subject_id: $subject_id})
RETURN l.value AS value, l.known_at AS known_at, l.source AS source, l.fraud_type AS fraud_type
ORDER BY l.seq
