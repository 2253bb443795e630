// Every transaction label event (info() resolves which one wins per transaction).
// Parameters: none. Returns: subject_id, value, source, seq.
MATCH (l:Label)
WHERE l.subject = 'transaction'
RETURN l.subject_id AS subject_id, l.value AS value, l.source AS source, l.seq AS seq
