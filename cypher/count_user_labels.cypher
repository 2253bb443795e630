// Users per latest user label. Parameters: none. Returns: value, n.
MATCH (l:Label)
WHERE l.subject = 'user'
WITH l.subject_id AS sid, l ORDER BY l.seq
WITH sid, last(collect(l.value)) AS value
RETURN value, count(*) AS n
