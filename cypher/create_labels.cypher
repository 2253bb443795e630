// Label events. Parameters: $rows (list of {seq, subject, subject_id, value, known_at, source, created_at}).
// Returns: nothing.
UNWIND $rows AS row
CREATE (l:Label)
SET l = row
