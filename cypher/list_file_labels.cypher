// File labels already stored for some transactions (a replayed file adds a label only once).
// Parameters: $ids (transaction ids). Returns: subject_id, value.
UNWIND $ids AS id
MATCH (l:Label {subject: 'transaction', subject_id: id})
WHERE l.source = 'file'
RETURN l.subject_id AS subject_id, l.value AS value
