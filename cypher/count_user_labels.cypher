// Users per user label in force: the strongest source's latest (investigator > chargeback > file), as the
// engine and the pages read it. Parameters: $ranks (source -> rank). Returns: value, n.
MATCH (l:Label)
WHERE l.subject = 'user'
WITH l.subject_id AS sid, l ORDER BY coalesce($ranks[l.source], 0), l.seq
WITH sid, last(collect(l.value)) AS value
RETURN value, count(*) AS n
